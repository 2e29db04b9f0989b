#pragma once
// Prometheus text-format metrics: requests by route and status, latency histograms per route,
// queue depth, batch sizes, model load state.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace medai::server {

class Metrics {
 public:
  void observe_request(const std::string& route, int status, double latency_ms);
  void observe_batch(int size);
  void set_queue_depth(int depth);
  void set_model_state(const std::string& model_version, int loaded);
  std::string prometheus();

 private:
  static const std::vector<double>& latency_buckets();
  std::mutex mu_;
  std::map<std::pair<std::string, int>, long> requests_;
  struct Histogram {
    std::vector<long> counts;
    double sum = 0;
    long n = 0;
  };
  std::map<std::string, Histogram> latency_;
  std::map<int, long> batch_sizes_;
  int queue_depth_ = 0;
  std::map<std::string, int> model_state_;
};

}  // namespace medai::server
