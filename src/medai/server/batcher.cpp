#include "medai/server/batcher.h"

#include <torch/torch.h>

#include <chrono>

namespace medai::server {

Batcher::Batcher(std::shared_ptr<imaging::ClassifierModel> model, int max_batch, int max_delay_ms, int capacity,
                 std::function<void(int)> on_batch)
    : model_(std::move(model)),
      max_batch_(std::max(1, max_batch)),
      max_delay_ms_(std::max(0, max_delay_ms)),
      capacity_(std::max(1, capacity)),
      on_batch_(std::move(on_batch)),
      worker_([this] { loop(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::future<imaging::Prediction> Batcher::submit(torch::Tensor input) {
  std::lock_guard<std::mutex> l(mu_);
  if (static_cast<int>(queue_.size()) >= capacity_) throw QueueFull();
  queue_.push_back({std::move(input), {}});
  auto f = queue_.back().done.get_future();
  cv_.notify_one();
  return f;
}

int Batcher::depth() {
  std::lock_guard<std::mutex> l(mu_);
  return static_cast<int>(queue_.size());
}

void Batcher::loop() {
  for (;;) {
    std::vector<Job> batch;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
      if (stop_ && queue_.empty()) return;
      // A lone request after a lone batch (no concurrency) runs at once; otherwise wait for companions.
      const bool lonely = queue_.size() == 1 && last_batch_ <= 1;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(lonely ? 0 : max_delay_ms_);
      while (!stop_ && static_cast<int>(queue_.size()) < max_batch_ &&
             cv_.wait_until(l, deadline) != std::cv_status::timeout) {}
      const int n = std::min<int>(max_batch_, static_cast<int>(queue_.size()));
      for (int i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      last_batch_ = n + static_cast<int>(queue_.size());  // demand seen at this batch
    }
    if (batch.empty()) continue;
    try {
      std::vector<torch::Tensor> inputs;
      for (auto& j : batch) inputs.push_back(j.input);
      auto preds = model_->predict_batch(torch::cat(inputs));
      if (on_batch_) on_batch_(static_cast<int>(batch.size()));  // counted before anyone is answered
      for (size_t i = 0; i < batch.size(); ++i) batch[i].done.set_value(std::move(preds[i]));
    } catch (...) {
      for (auto& j : batch) j.done.set_exception(std::current_exception());
    }
  }
}

}  // namespace medai::server
