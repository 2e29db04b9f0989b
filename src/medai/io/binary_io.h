#pragma once
// Little-endian binary serialisation for medai's own model files. The reader checks every
// declared count against the bytes left before allocating, and fails naming the source.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace medai::io {

class ByteWriter {
 public:
  void u32(uint32_t v) { put(&v, sizeof v); }
  void u64(uint64_t v) { put(&v, sizeof v); }
  void f64(double v) { put(&v, sizeof v); }
  void str(std::string_view s) {
    u64(s.size());
    put(s.data(), s.size());
  }
  void f32s(const std::vector<float>& v) {
    u64(v.size());
    put(v.data(), v.size() * sizeof(float));
  }
  void f64s(const std::vector<double>& v) {
    u64(v.size());
    put(v.data(), v.size() * sizeof(double));
  }
  const std::string& bytes() const { return out_; }

 private:
  void put(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string source) : bytes_(bytes), source_(std::move(source)) {}
  uint32_t u32();
  uint64_t u64();
  double f64();
  std::string str();
  std::vector<float> f32s();
  std::vector<double> f64s();
  // Fails unless the next bytes are `magic`.
  void expect(std::string_view magic);
  bool done() const { return pos_ == bytes_.size(); }
  [[noreturn]] void corrupt(const std::string& why) const;

 private:
  void take(void* p, size_t n);
  // A count of `elem`-byte items that must fit in what is left.
  size_t count(size_t elem);
  std::string_view bytes_;
  std::string source_;
  size_t pos_ = 0;
};

}  // namespace medai::io
