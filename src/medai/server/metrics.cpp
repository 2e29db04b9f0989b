#include "medai/server/metrics.h"

#include <cstdio>

namespace medai::server {

const std::vector<double>& Metrics::latency_buckets() {
  static const std::vector<double> b{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  return b;
}

void Metrics::observe_request(const std::string& route, int status, double ms) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{route, status}];
  auto& h = latency_[route];
  if (h.counts.empty()) h.counts.assign(latency_buckets().size(), 0);
  for (size_t i = 0; i < latency_buckets().size(); ++i)
    if (ms <= latency_buckets()[i]) ++h.counts[i];
  h.sum += ms;
  ++h.n;
}

void Metrics::observe_batch(int size) {
  std::lock_guard<std::mutex> l(mu_);
  ++batch_sizes_[size];
}

void Metrics::set_queue_depth(int d) {
  std::lock_guard<std::mutex> l(mu_);
  queue_depth_ = d;
}

void Metrics::set_model_state(const std::string& mv, int loaded) {
  std::lock_guard<std::mutex> l(mu_);
  model_state_[mv] = loaded;
}

std::string Metrics::prometheus() {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  char buf[256];
  out += "# HELP medai_requests_total HTTP requests by route and status.\n# TYPE medai_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    std::snprintf(buf, sizeof buf, "medai_requests_total{route=\"%s\",status=\"%d\"} %ld\n", k.first.c_str(), k.second,
                  n);
    out += buf;
  }
  out +=
      "# HELP medai_request_duration_ms Request latency in milliseconds.\n# TYPE medai_request_duration_ms histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < latency_buckets().size(); ++i) {
      std::snprintf(buf, sizeof buf, "medai_request_duration_ms_bucket{route=\"%s\",le=\"%g\"} %ld\n", route.c_str(),
                    latency_buckets()[i], h.counts[i]);
      out += buf;
    }
    std::snprintf(
        buf, sizeof buf,
        "medai_request_duration_ms_bucket{route=\"%s\",le=\"+Inf\"} %ld\nmedai_request_duration_ms_sum{route=\"%s\"} "
        "%.3f\nmedai_request_duration_ms_count{route=\"%s\"} %ld\n",
        route.c_str(), h.n, route.c_str(), h.sum, route.c_str(), h.n);
    out += buf;
  }
  out += "# HELP medai_queue_depth Image requests waiting for a batch.\n# TYPE medai_queue_depth gauge\n";
  out += "medai_queue_depth " + std::to_string(queue_depth_) + "\n";
  out += "# HELP medai_batch_size_total Batches run, by size.\n# TYPE medai_batch_size_total counter\n";
  for (const auto& [s, n] : batch_sizes_)
    out += "medai_batch_size_total{size=\"" + std::to_string(s) + "\"} " + std::to_string(n) + "\n";
  out += "# HELP medai_model_loaded 1 when the model version is loaded.\n# TYPE medai_model_loaded gauge\n";
  for (const auto& [m, v] : model_state_) out += "medai_model_loaded{model=\"" + m + "\"} " + std::to_string(v) + "\n";
  return out;
}

}  // namespace medai::server
