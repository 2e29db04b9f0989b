#pragma once
// Threaded, prefetching batch loader for image classification. Decoding happens once into an
// in-memory cache of resized images (16-bit, [0, 1]); augmentation runs on worker threads so the
// model never waits. Per-sample randomness is seeded from (seed, epoch, sample), so a batch is
// the same whatever the thread timing, and a resumed run sees the same data.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "medai/data/image_dataset.h"
#include "medai/transforms/transforms.h"

namespace medai::data {

// Decoded images resized to size x size, [0, 1] stored as uint16 (2 bytes a pixel). With
// keep = false nothing is stored: every get() decodes the file again (for data too large for RAM).
class DecodedCache {
 public:
  DecodedCache(const ImageDataset& ds, int size, bool keep = true);
  // Decodes the given samples on `threads` threads, with a progress bar. Throws on the first
  // unreadable file, naming it.
  void preload(const std::vector<size_t>& indices, int threads, bool progress = true);
  // The cached image (decoding it now if needed), as CV_32F in [0, 1].
  cv::Mat get(size_t index);
  int size() const { return size_; }
  bool keeps() const { return keep_; }

 private:
  const ImageDataset& ds_;
  void ensure(size_t index);  // decode and store once
  int size_;
  bool keep_;
  std::vector<std::vector<uint16_t>> images_;
  std::unique_ptr<std::once_flag[]> once_;
};

// Decodes one file to a [0, 1] single-channel image at size x size (no normalisation).
cv::Mat load_unit_image(const std::filesystem::path& path, int size);

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = false;
  bool augment = false;
  transforms::AugmentOptions augment_options;
  uint64_t seed = 0;
  int epoch = 0;
  int workers = 2;
  int prefetch = 4;  // batches prepared ahead
  bool drop_last = false;
  // Applied to each [0, 1] image (after augmentation, before normalisation) with its dataset
  // index, e.g. a transforms::perturb for a robustness check. Empty: none.
  std::function<cv::Mat(const cv::Mat&, size_t)> transform;
};

struct ImageBatch {
  int64_t size = 0;           // images in this batch
  int image_size = 0;         // pixels per side
  std::vector<float> pixels;  // size x 1 x image_size x image_size, normalised
  std::vector<int64_t> labels;
  std::vector<size_t> indices;  // dataset indices
};

class ImageLoader {
 public:
  ImageLoader(DecodedCache& cache, const ImageDataset& ds, std::vector<size_t> indices, LoaderOptions options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;
  int64_t num_batches() const { return static_cast<int64_t>(batches_.size()); }
  // Next batch in order, or nullopt at the end of the epoch. Rethrows a worker's error.
  std::optional<ImageBatch> next();

 private:
  void work(int worker);
  ImageBatch make_batch(size_t b);
  DecodedCache& cache_;
  const ImageDataset& ds_;
  LoaderOptions opt_;
  std::vector<std::vector<size_t>> batches_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<size_t, ImageBatch> ready_;
  std::exception_ptr error_;
  size_t next_out_ = 0, next_in_ = 0;
  bool stop_ = false;
};

}  // namespace medai::data
