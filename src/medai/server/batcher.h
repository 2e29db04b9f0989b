#pragma once
// Dynamic batching for one image model: requests wait at most `max_delay_ms` for companions and
// run together (up to `max_batch`); a bounded queue refuses work beyond `capacity`.
#include <torch/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "medai/imaging/classifier_model.h"

namespace medai::server {

struct QueueFull : std::runtime_error {
  QueueFull() : std::runtime_error("queue full") {}
};

class Batcher {
 public:
  Batcher(std::shared_ptr<imaging::ClassifierModel> model, int max_batch, int max_delay_ms, int capacity,
          std::function<void(int)> on_batch = {});
  ~Batcher();
  // Queues one 1 x C x S x S input; throws QueueFull when the queue is at capacity.
  std::future<imaging::Prediction> submit(torch::Tensor input);
  int depth();

 private:
  void loop();
  struct Job {
    torch::Tensor input;
    std::promise<imaging::Prediction> done;
  };
  std::shared_ptr<imaging::ClassifierModel> model_;
  int max_batch_, max_delay_ms_, capacity_;
  std::function<void(int)> on_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  int last_batch_ = 0;
  std::thread worker_;
};

}  // namespace medai::server
