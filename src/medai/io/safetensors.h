#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian tensor bytes (offsets relative to the end of the header).
// The reader checks every declared size against the file before allocating and converts
// F32 / F16 / BF16 / F64 / I64 / I32 / I16 / I8 / U8 / BOOL to float32.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace medai::io {

struct SafeTensor {
  std::string dtype;  // as stored
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Fails (InvalidInput) naming the file and, where it applies, the tensor: a header length
  // beyond the file, malformed JSON, an unknown dtype, a negative dimension, offsets outside the
  // data or a byte count that does not match dtype x shape.
  static SafetensorsFile read(const std::filesystem::path& path);
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  const SafeTensor& at(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& source() const { return source_; }

 private:
  std::filesystem::path source_;
  std::map<std::string, SafeTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes float32 tensors (name -> shape, values), atomically.
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>& tensors);

}  // namespace medai::io
