#include "medai/io/binary_io.h"

#include "medai/core/error.h"

namespace medai::io {

void ByteReader::corrupt(const std::string& why) const {
  fail_invalid(source_ + ": corrupt or truncated file at byte " + std::to_string(pos_) + " (" + why + ")");
}

void ByteReader::take(void* p, size_t n) {
  if (n > bytes_.size() - pos_)
    corrupt("needs " + std::to_string(n) + " bytes, " + std::to_string(bytes_.size() - pos_) + " left");
  std::memcpy(p, bytes_.data() + pos_, n);
  pos_ += n;
}

size_t ByteReader::count(size_t elem) {
  const uint64_t n = u64();
  if (n > (bytes_.size() - pos_) / elem) corrupt("declares " + std::to_string(n) + " items, more than the file holds");
  return static_cast<size_t>(n);
}

uint32_t ByteReader::u32() {
  uint32_t v;
  take(&v, sizeof v);
  return v;
}
uint64_t ByteReader::u64() {
  uint64_t v;
  take(&v, sizeof v);
  return v;
}
double ByteReader::f64() {
  double v;
  take(&v, sizeof v);
  return v;
}

std::string ByteReader::str() {
  std::string s(count(1), '\0');
  take(s.data(), s.size());
  return s;
}

std::vector<float> ByteReader::f32s() {
  std::vector<float> v(count(sizeof(float)));
  take(v.data(), v.size() * sizeof(float));
  return v;
}

std::vector<double> ByteReader::f64s() {
  std::vector<double> v(count(sizeof(double)));
  take(v.data(), v.size() * sizeof(double));
  return v;
}

void ByteReader::expect(std::string_view magic) {
  if (magic.size() > bytes_.size() - pos_ || bytes_.substr(pos_, magic.size()) != magic)
    corrupt("expected the tag '" + std::string(magic) + "'");
  pos_ += magic.size();
}

}  // namespace medai::io
