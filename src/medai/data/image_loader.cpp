#include "medai/data/image_loader.h"

#include <algorithm>
#include <atomic>
#include <random>

#include "medai/core/error.h"
#include "medai/core/progress.h"
#include "medai/io/image.h"

namespace medai::data {

cv::Mat load_unit_image(const std::filesystem::path& path, int size) {
  io::Image img = io::read_image(path);
  return transforms::resize_pad(io::display_frame(img), size);
}

DecodedCache::DecodedCache(const ImageDataset& ds, int size, bool keep)
    : ds_(ds),
      size_(size),
      keep_(keep),
      images_(keep ? ds.samples.size() : 0),
      once_(keep ? new std::once_flag[ds.samples.size()] : nullptr) {}

void DecodedCache::ensure(size_t i) {
  std::call_once(once_[i], [&] {
    cv::Mat m = load_unit_image(ds_.samples[i].path, size_);
    cv::Mat q;
    m.convertTo(q, CV_16U, 65535.0);
    images_[i].assign(q.ptr<uint16_t>(), q.ptr<uint16_t>() + q.total());
  });
}

cv::Mat DecodedCache::get(size_t i) {
  if (!keep_) return load_unit_image(ds_.samples[i].path, size_);
  ensure(i);
  cv::Mat q(size_, size_, CV_16U, images_[i].data()), f;
  q.convertTo(f, CV_32F, 1.0 / 65535.0);
  return f;
}

void DecodedCache::preload(const std::vector<size_t>& indices, int threads, bool progress) {
  core::ProgressBar bar("decode", static_cast<int64_t>(indices.size()), "img", progress);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr err;
  auto worker = [&] {
    for (size_t k; (k = next.fetch_add(1)) < indices.size();) {
      try {
        if (keep_) ensure(indices[k]);
        else load_unit_image(ds_.samples[indices[k]].path, size_);  // validates only
      } catch (...) {
        std::lock_guard lock(mu);
        if (!err) err = std::current_exception();
        next = indices.size();
      }
      std::lock_guard lock(mu);
      bar.advance();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  bar.finish();
  if (err) std::rethrow_exception(err);
}

ImageLoader::ImageLoader(DecodedCache& cache, const ImageDataset& ds, std::vector<size_t> indices, LoaderOptions opt)
    : cache_(cache), ds_(ds), opt_(opt) {
  if (opt_.batch_size <= 0) fail_invalid("batch size must be positive");
  if (opt_.shuffle) {
    std::mt19937_64 rng(opt_.seed * 1000003ULL + static_cast<uint64_t>(opt_.epoch));
    std::shuffle(indices.begin(), indices.end(), rng);
  }
  for (size_t s = 0; s < indices.size(); s += opt_.batch_size) {
    size_t e = std::min(indices.size(), s + opt_.batch_size);
    if (opt_.drop_last && e - s < static_cast<size_t>(opt_.batch_size) && s > 0) break;
    batches_.emplace_back(indices.begin() + s, indices.begin() + e);
  }
  for (int w = 0; w < std::max(1, opt_.workers); ++w) threads_.emplace_back([this, w] { work(w); });
}

ImageLoader::~ImageLoader() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

ImageBatch ImageLoader::make_batch(size_t b) {
  const auto& idx = batches_[b];
  const int s = cache_.size();
  ImageBatch batch;
  batch.size = static_cast<int64_t>(idx.size());
  batch.image_size = s;
  batch.pixels.resize(idx.size() * s * s);
  for (size_t k = 0; k < idx.size(); ++k) {
    cv::Mat img = cache_.get(idx[k]);
    if (opt_.augment) {
      std::mt19937_64 rng((opt_.seed * 1000003ULL + opt_.epoch) * 2654435761ULL + idx[k]);
      img = transforms::augment(img, opt_.augment_options, rng);
    }
    if (opt_.transform) img = opt_.transform(img, idx[k]);
    cv::Mat norm = transforms::normalize_intensity(img);
    std::copy(norm.ptr<float>(), norm.ptr<float>() + s * s, batch.pixels.begin() + k * s * s);
    batch.labels.push_back(ds_.samples[idx[k]].label);
  }
  batch.indices = idx;
  return batch;
}

void ImageLoader::work(int) {
  for (;;) {
    size_t b;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || (next_in_ < batches_.size() && next_in_ < next_out_ + opt_.prefetch); });
      if (stop_ || next_in_ >= batches_.size()) return;
      b = next_in_++;
    }
    ImageBatch batch;
    std::exception_ptr err;
    try {
      batch = make_batch(b);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      if (err && !error_) error_ = err;
      ready_[b] = std::move(batch);
    }
    cv_.notify_all();
  }
}

std::optional<ImageBatch> ImageLoader::next() {
  std::unique_lock lock(mu_);
  if (next_out_ >= batches_.size()) return std::nullopt;
  cv_.wait(lock, [&] { return error_ || ready_.count(next_out_) > 0; });
  if (error_) std::rethrow_exception(error_);
  ImageBatch b = std::move(ready_[next_out_]);
  ready_.erase(next_out_);
  ++next_out_;
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace medai::data
