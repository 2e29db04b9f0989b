#include "medai/bridges/grpc/federation_transport.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "federation.grpc.pb.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::bridges::fl {

namespace pb = medai::fl::v1;

namespace {

grpc::StatusCode status_code(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidInput: return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::NotFound: return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::Unauthorized: return grpc::StatusCode::UNAUTHENTICATED;
    case ErrorCode::Forbidden: return grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::Conflict: return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::Unavailable: return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::Timeout: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::PayloadTooLarge: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::Unsupported: return grpc::StatusCode::UNIMPLEMENTED;
    default: return grpc::StatusCode::INTERNAL;
  }
}

ErrorCode error_code(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT: return ErrorCode::InvalidInput;
    case grpc::StatusCode::NOT_FOUND: return ErrorCode::NotFound;
    case grpc::StatusCode::UNAUTHENTICATED: return ErrorCode::Unauthorized;
    case grpc::StatusCode::PERMISSION_DENIED: return ErrorCode::Forbidden;
    case grpc::StatusCode::FAILED_PRECONDITION: return ErrorCode::Conflict;
    case grpc::StatusCode::UNAVAILABLE: return ErrorCode::Unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return ErrorCode::Timeout;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return ErrorCode::PayloadTooLarge;
    case grpc::StatusCode::UNIMPLEMENTED: return ErrorCode::Unsupported;
    default: return ErrorCode::Internal;
  }
}

CallContext call_context(const grpc::ServerContext& ctx) {
  CallContext c;
  c.peer = ctx.peer();
  const auto& md = ctx.client_metadata();
  const auto it = md.find("authorization");
  if (it != md.end()) {
    std::string v(it->second.data(), it->second.size());
    if (v.rfind("Bearer ", 0) == 0) v = v.substr(7);
    c.token = v;
  }
  return c;
}

template <class F>
grpc::Status guarded(F&& f) {
  try {
    f();
    return grpc::Status::OK;
  } catch (const Error& e) {
    return {status_code(e.code()), e.what()};
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, e.what()};
  }
}

std::vector<double> repeated(const google::protobuf::RepeatedField<double>& r) { return {r.begin(), r.end()}; }

class Service final : public pb::Federation::Service {
 public:
  explicit Service(FederationHandler& h) : h_(h) {}
  grpc::Status Join(grpc::ServerContext* ctx, const pb::JoinRequest* in, pb::JoinReply* out) override {
    return guarded([&] {
      JoinRequest r{in->site(),
                    in->architecture(),
                    in->train_examples(),
                    in->validation_examples(),
                    repeated(in->feature_count()),
                    repeated(in->feature_sum()),
                    repeated(in->feature_sum_sq()),
                    in->public_key()};
      const JoinReply reply = h_.join(call_context(*ctx), r);
      out->set_session(reply.session);
      out->set_run(reply.run);
      out->set_site(reply.site);
    });
  }
  grpc::Status GetTask(grpc::ServerContext* ctx, const pb::TaskRequest* in, pb::Task* out) override {
    return guarded([&] {
      const Task t = h_.get_task(call_context(*ctx), in->session());
      out->set_kind(static_cast<pb::Task::Kind>(t.kind));
      out->set_round(t.round);
      out->set_parameters(t.parameters);
      out->set_parameters_sha256(t.parameters_sha256);
      out->set_config(t.config);
      for (const auto& p : t.peers) {
        auto* q = out->add_peers();
        q->set_site(p.site);
        q->set_public_key(p.public_key);
      }
      out->set_retry_after_s(t.retry_after_s);
    });
  }
  grpc::Status SubmitUpdate(grpc::ServerContext* ctx, const pb::Update* in, pb::UpdateReply* out) override {
    return guarded([&] {
      Update u;
      u.session = in->session();
      u.round = in->round();
      u.payload = in->payload();
      u.payload_sha256 = in->payload_sha256();
      u.examples = in->examples();
      u.validation_examples = in->validation_examples();
      u.validation_auroc = in->validation_auroc();
      u.train_loss = in->train_loss();
      u.epsilon = in->epsilon();
      u.masked = in->masked();
      u.nonce = in->nonce();
      const UpdateReply r = h_.submit(call_context(*ctx), u);
      out->set_accepted(r.accepted);
      out->set_reason(r.reason);
    });
  }

 private:
  FederationHandler& h_;
};

std::string read_pem(const std::filesystem::path& p, const char* what) {
  try {
    return core::read_file(p);
  } catch (const Error&) {
    fail_not_found(p.string() + ": cannot read the TLS " + what);
  }
}

}  // namespace

struct FederationServer::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

FederationServer::FederationServer(FederationHandler& handler, const std::string& address, const TlsFiles& tls,
                                   size_t max_message_bytes)
    : impl_(std::make_unique<Impl>()) {
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (tls.enabled()) {
    if (tls.cert.empty() || tls.key.empty()) fail_invalid("TLS needs both --tls-cert and --tls-key");
    grpc::SslServerCredentialsOptions o;
    o.pem_key_cert_pairs.push_back({read_pem(tls.key, "key"), read_pem(tls.cert, "certificate")});
    creds = grpc::SslServerCredentials(o);
  }
  impl_->service = std::make_unique<Service>(handler);
  grpc::ServerBuilder b;
  b.AddListeningPort(address, creds, &impl_->port);
  b.RegisterService(impl_->service.get());
  b.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  b.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  impl_->server = b.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    fail(ErrorCode::Io, "federation: cannot listen on " + address + " (in use, or not an address)");
}

FederationServer::~FederationServer() { shutdown(); }
int FederationServer::port() const { return impl_->port; }
void FederationServer::shutdown() {
  if (impl_ && impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->server.reset();
  }
}

struct FederationClient::Impl {
  std::unique_ptr<pb::Federation::Stub> stub;
  std::string token;
  double timeout_s;
  void prepare(grpc::ClientContext& ctx) const {
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  }
  static void check(const grpc::Status& s, const char* call) {
    if (s.ok()) return;
    fail(error_code(s.error_code()), std::string("federation ") + call + ": " + s.error_message());
  }
};

FederationClient::FederationClient(const std::string& address, const std::string& token, const TlsFiles& tls,
                                   double call_timeout_s, size_t max_message_bytes)
    : impl_(std::make_unique<Impl>()) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  args.SetMaxSendMessageSize(static_cast<int>(max_message_bytes));
  if (tls.enabled()) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = read_pem(tls.ca, "CA certificate");
    creds = grpc::SslCredentials(o);
    if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  }
  impl_->stub = pb::Federation::NewStub(grpc::CreateCustomChannel(address, creds, args));
  impl_->token = token;
  impl_->timeout_s = call_timeout_s;
}

FederationClient::~FederationClient() = default;

JoinReply FederationClient::join(const JoinRequest& r) {
  pb::JoinRequest in;
  in.set_site(r.site);
  in.set_architecture(r.architecture);
  in.set_train_examples(r.train_examples);
  in.set_validation_examples(r.validation_examples);
  for (double v : r.feature_count) in.add_feature_count(v);
  for (double v : r.feature_sum) in.add_feature_sum(v);
  for (double v : r.feature_sum_sq) in.add_feature_sum_sq(v);
  in.set_public_key(r.public_key);
  pb::JoinReply out;
  grpc::ClientContext ctx;
  impl_->prepare(ctx);
  Impl::check(impl_->stub->Join(&ctx, in, &out), "join");
  return {out.session(), out.run(), out.site()};
}

Task FederationClient::get_task(const std::string& session) {
  pb::TaskRequest in;
  in.set_session(session);
  pb::Task out;
  grpc::ClientContext ctx;
  impl_->prepare(ctx);
  Impl::check(impl_->stub->GetTask(&ctx, in, &out), "get task");
  Task t;
  t.kind = static_cast<TaskKind>(out.kind());
  t.round = out.round();
  t.parameters = out.parameters();
  t.parameters_sha256 = out.parameters_sha256();
  t.config = out.config();
  for (const auto& p : out.peers()) t.peers.push_back({p.site(), p.public_key()});
  t.retry_after_s = out.retry_after_s();
  return t;
}

UpdateReply FederationClient::submit(const Update& u) {
  pb::Update in;
  in.set_session(u.session);
  in.set_round(u.round);
  in.set_payload(u.payload);
  in.set_payload_sha256(u.payload_sha256);
  in.set_examples(u.examples);
  in.set_validation_examples(u.validation_examples);
  in.set_validation_auroc(u.validation_auroc);
  in.set_train_loss(u.train_loss);
  in.set_epsilon(u.epsilon);
  in.set_masked(u.masked);
  in.set_nonce(u.nonce);
  pb::UpdateReply out;
  grpc::ClientContext ctx;
  impl_->prepare(ctx);
  Impl::check(impl_->stub->SubmitUpdate(&ctx, in, &out), "submit update");
  return {out.accepted(), out.reason()};
}

}  // namespace medai::bridges::fl
