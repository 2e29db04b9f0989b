#pragma once
// DICOM reading through DCMTK (this folder is the only place that includes it).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medai/io/image.h"

namespace medai::io {

struct DicomPixels {
  Image image;  // modality units, window/LUT and MONOCHROME1 inversion recorded for display
  // Decoded stored values exactly as in the file after decompression, little-endian, native
  // width, frames x rows x cols x samples (colour interleaved); 1-bit data unpacked to 0/1 bytes.
  std::vector<uint8_t> stored;
  int bits_allocated = 0, bits_stored = 0, pixel_representation = 0;
  std::string transfer_syntax_uid;
  std::string sop_class_uid;
};

DicomPixels read_dicom(const std::filesystem::path& path);
DicomPixels decode_dicom(const std::string& bytes, const std::string& name);

// JPEG 2000 codestream (or JP2 file) decoding via OpenJPEG; writes native-width stored values.
struct J2kFrame {
  int width = 0, height = 0, components = 0, precision = 0;
  bool is_signed = false;
  std::vector<int32_t> samples;  // height x width x components, interleaved
};
// What the DICOM header declares: the codestream's header must agree before anything is decoded.
struct J2kExpected {
  int width = 0, height = 0, components = 0;
};
J2kFrame decode_j2k(const uint8_t* data, size_t size, const std::string& name, const J2kExpected* expected = nullptr);

}  // namespace medai::io
