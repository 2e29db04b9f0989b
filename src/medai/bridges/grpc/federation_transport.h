#pragma once
// The federated-learning transport (gRPC, Debian libgrpc++-dev; the protocol in federation.proto)
// behind plain structs: the coordinator implements FederationHandler and runs a FederationServer,
// a site talks through a FederationClient. The only files of the project that include gRPC or the
// generated protobuf code are in this folder. TLS when certificate files are given (server: cert +
// key; client: the CA that signed the server's certificate); the site's bearer token travels in
// the `authorization` metadata of every call. A handler's medai::Error becomes the matching gRPC
// status and back again at the client, with its message.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace medai::bridges::fl {

struct JoinRequest {
  std::string site, architecture;
  uint64_t train_examples = 0, validation_examples = 0;
  std::vector<double> feature_count, feature_sum, feature_sum_sq;
  std::string public_key;  // 32 raw bytes (X25519)
};
struct JoinReply {
  std::string session, run, site;
};

struct Peer {
  std::string site, public_key;
};
enum class TaskKind { Wait, Train, Evaluate, Done };
struct Task {
  TaskKind kind = TaskKind::Wait;
  uint32_t round = 0;
  std::string parameters;  // float32 little-endian
  std::string parameters_sha256, config;
  std::vector<Peer> peers;
  double retry_after_s = 0.2;
};

struct Update {
  std::string session;
  uint32_t round = 0;
  std::string payload, payload_sha256;
  uint64_t examples = 0, validation_examples = 0;
  double validation_auroc = 0, train_loss = 0, epsilon = 0;
  bool masked = false;
  std::string nonce;
};
struct UpdateReply {
  bool accepted = false;
  std::string reason;
};

// Who is calling: the bearer token and the peer address gRPC reports.
struct CallContext {
  std::string token, peer;
};

class FederationHandler {
 public:
  virtual ~FederationHandler() = default;
  virtual JoinReply join(const CallContext& call, const JoinRequest& request) = 0;
  virtual Task get_task(const CallContext& call, const std::string& session) = 0;
  virtual UpdateReply submit(const CallContext& call, const Update& update) = 0;
};

// Server: cert + key (PEM). Client: ca (PEM) to verify the server, and the name its certificate
// carries when it differs from the host in the address (a test's "localhost" certificate).
struct TlsFiles {
  std::filesystem::path cert, key, ca;
  std::string server_name;
  bool enabled() const { return !cert.empty() || !ca.empty(); }
};

class FederationServer {
 public:
  // Listens on `address` ("0.0.0.0:50051"; port 0 picks a free one). Fails naming the address.
  FederationServer(FederationHandler& handler, const std::string& address, const TlsFiles& tls,
                   size_t max_message_bytes = 512u << 20);
  ~FederationServer();
  int port() const;
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class FederationClient {
 public:
  FederationClient(const std::string& address, const std::string& token, const TlsFiles& tls,
                   double call_timeout_s = 120, size_t max_message_bytes = 512u << 20);
  ~FederationClient();
  JoinReply join(const JoinRequest& request);
  Task get_task(const std::string& session);
  UpdateReply submit(const Update& update);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medai::bridges::fl
