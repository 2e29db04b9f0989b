#include "medai/io/safetensors.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"

namespace medai::io {

int64_t SafeTensor::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL") return 1;
  return 0;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = mant;
      do ++e, m <<= 1;
      while ((m & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (m & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class T>
void convert(const char* p, size_t n, std::vector<float>& out) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, p + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

void decode(const std::string& dtype, const char* p, size_t n, std::vector<float>& out) {
  out.resize(n);
  if (dtype == "F32") return convert<float>(p, n, out);
  if (dtype == "F64") return convert<double>(p, n, out);
  if (dtype == "I64") return convert<int64_t>(p, n, out);
  if (dtype == "U64") return convert<uint64_t>(p, n, out);
  if (dtype == "I32") return convert<int32_t>(p, n, out);
  if (dtype == "U32") return convert<uint32_t>(p, n, out);
  if (dtype == "I16") return convert<int16_t>(p, n, out);
  if (dtype == "U16") return convert<uint16_t>(p, n, out);
  if (dtype == "I8") return convert<int8_t>(p, n, out);
  if (dtype == "U8" || dtype == "BOOL") return convert<uint8_t>(p, n, out);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    if (dtype == "F16") {
      out[i] = half_to_float(h);
    } else {  // BF16: the top half of a float32
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      std::memcpy(&out[i], &bits, 4);
    }
  }
}

}  // namespace

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& path) {
  const std::string bytes = core::read_file(path);
  const std::string file = path.string();
  if (bytes.size() < 8) fail_invalid(file + ": not a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8)
    fail_invalid(file + ": the header length " + std::to_string(n) + " runs beyond the file (" +
                 std::to_string(bytes.size()) + " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.substr(8, n));
  } catch (const std::exception& e) {
    fail_invalid(file + ": the header is not JSON (" + e.what() + ")");
  }
  if (!header.is_object()) fail_invalid(file + ": the header is not a JSON object");
  const char* data = bytes.data() + 8 + n;
  const size_t data_size = bytes.size() - 8 - n;
  SafetensorsFile out;
  out.source_ = path;
  for (const auto& [name, entry] : header.items()) {
    const std::string where = file + ", tensor '" + name + "'";
    if (name == "__metadata__") {
      if (entry.is_object())
        for (const auto& [k, v] : entry.items()) out.metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    try {
      SafeTensor t;
      t.dtype = entry.at("dtype").get<std::string>();
      const size_t elem = dtype_size(t.dtype);
      if (elem == 0) fail_invalid(where + ": unknown dtype '" + t.dtype + "'");
      uint64_t numel = 1;
      for (const auto& d : entry.at("shape")) {
        const auto v = d.get<int64_t>();
        if (v < 0) fail_invalid(where + ": negative dimension " + std::to_string(v));
        if (v > 0 && numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(v) / elem)
          fail_invalid(where + ": the shape is too large");
        numel *= static_cast<uint64_t>(v);
        t.shape.push_back(v);
      }
      const auto& off = entry.at("data_offsets");
      const auto begin = off.at(0).get<uint64_t>(), end = off.at(1).get<uint64_t>();
      if (begin > end || end > data_size)
        fail_invalid(where + ": data offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                     "] fall outside the " + std::to_string(data_size) + " data bytes");
      if (end - begin != numel * elem)
        fail_invalid(where + ": " + std::to_string(end - begin) + " bytes do not hold " + t.dtype + " of " +
                     std::to_string(numel) + " elements");
      decode(t.dtype, data + begin, numel, t.values);
      out.tensors_.emplace(name, std::move(t));
    } catch (const nlohmann::json::exception& e) {
      fail_invalid(where + ": malformed entry (" + e.what() + ")");
    }
  }
  return out;
}

const SafeTensor& SafetensorsFile::at(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail_invalid(source_.string() + ": no tensor '" + name + "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(t.second.data()), t.second.size() * sizeof(float));
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h.push_back(' ');  // the data starts 8-byte aligned
  const uint64_t n = h.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  out += h;
  out += data;
  core::write_file_atomic(path, out);
}

}  // namespace medai::io
