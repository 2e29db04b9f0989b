#pragma once
// The federated-learning coordinator (`medai fl serve`): it owns the global model and the round
// loop, and answers the sites through the gRPC transport (bridges/grpc). Each round it samples
// sites among those that joined and are polling, hands them the global model and the local
// settings, waits for their updates until all arrived or the round deadline passed, and aggregates
// when at least min_clients updates are in (under secure aggregation: all of the round's sites,
// else the round is aborted and run again without the missing ones). Every refusal (unknown token,
// another architecture, a replayed, corrupted, late or misplaced update, a site without data) is
// answered with its reason and written to RUN/audit.jsonl; the federation goes on. A checkpoint per
// round (train/checkpoint.h) lets a restarted coordinator resume where it stopped. Header free of
// libtorch and gRPC.
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "medai/bridges/grpc/federation_transport.h"
#include "medai/federated/strategy.h"

namespace medai::federated {

struct CoordinatorOptions {
  std::string task = "icu";
  int rounds = 20;
  StrategyOptions strategy;
  int min_clients = 2;
  int clients_per_round = 0;  // sampled per round among the live sites (0: all of them)
  int expect_sites = 0;       // round 1 waits for this many sites (0: min_clients)
  double round_deadline_s = 300;
  double join_timeout_s = 600;  // for the first sites
  int max_attempts = 5;         // per round, before the run gives up
  int local_epochs = 1, batch_size = 32;
  double lr = 1e-3;
  double dp_epsilon = 0, dp_delta = 1e-5, dp_clip = 1.0;  // DP-SGD at every site (epsilon 0: off)
  bool secure_aggregation = false;
  std::map<std::string, std::string> tokens;  // token -> site name
  std::filesystem::path out;
  bool resume = false;
  uint64_t seed = 1;
};

// `token,site` lines (a header line `token,site` allowed); errors name the file and line.
std::map<std::string, std::string> read_tokens(const std::filesystem::path& file);

class Coordinator : public bridges::fl::FederationHandler {
 public:
  Coordinator(CoordinatorOptions options, std::vector<float> initial_parameters);
  ~Coordinator() override;
  // Runs every round and the final evaluation; returns the summary also written to
  // RUN/summary.json. Blocks; the transport calls the handlers from its own threads.
  nlohmann::json run();

  bridges::fl::JoinReply join(const bridges::fl::CallContext& call, const bridges::fl::JoinRequest& request) override;
  bridges::fl::Task get_task(const bridges::fl::CallContext& call, const std::string& session) override;
  bridges::fl::UpdateReply submit(const bridges::fl::CallContext& call, const bridges::fl::Update& update) override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The saved global model of a finished run: flat parameters (best by validation, or the last
// round's), its architecture and preprocessing.
struct FederatedModel {
  nlohmann::json architecture, preprocessing, card;
  std::vector<float> parameters;
};
FederatedModel load_federated_model(const std::filesystem::path& run_dir, bool best = true);

// Float32 vectors as little-endian bytes (the wire and the checkpoints).
std::string to_bytes(const std::vector<float>& v);
std::vector<float> floats_from_bytes(const std::string& b, const std::string& what);

}  // namespace medai::federated
