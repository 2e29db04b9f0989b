#pragma once
// One image type for every reader: pixels in modality units (after DICOM rescale / NIfTI
// scaling), plus the display window, spacing and the technical metadata that matter.
// Never holds patient identifiers.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cv {
class Mat;
}

namespace medai::io {

struct Window {
  double center = 0;  // in modality units
  double width = 1;
};

// A display lookup table (DICOM VOI LUT Sequence): value -> [0, 1].
struct DisplayLut {
  int64_t first_mapped = 0;
  int bits = 16;
  std::vector<uint16_t> table;
};

struct Image {
  int width = 0;     // columns, pixels
  int height = 0;    // rows, pixels
  int channels = 1;  // samples per pixel (1 grey, 3 RGB)
  int frames = 1;    // DICOM frames or NIfTI slices (x volumes)
  // frames x height x width x channels, row-major, modality units.
  std::vector<float> pixels;
  double spacing_x_mm = 1.0, spacing_y_mm = 1.0, spacing_z_mm = 1.0;
  std::optional<Window> window;             // display window; none = min-max of the frame
  std::optional<DisplayLut> lut;            // takes precedence over window when present
  bool invert = false;                      // MONOCHROME1: high values are dark
  std::string format;                       // "png", "jpeg", "dicom", "nifti"
  std::map<std::string, std::string> meta;  // modality, photometric, transfer syntax, ...
  // Header values that were unusable and ignored with a standard fallback (e.g. an invalid VOI
  // window): the image is still meaningful, but callers pass these on (stderr, JSON `warnings`).
  std::vector<std::string> warnings;

  size_t frame_size() const { return static_cast<size_t>(width) * height * channels; }
  const float* frame_data(int f) const { return pixels.data() + frame_size() * f; }
};

enum class ImageFormat { Png, Jpeg, Dicom, Nifti, Unknown };

// Decides the format from the file's first bytes (and name for NIfTI).
ImageFormat detect_format(const std::filesystem::path& path, const std::string& head_bytes);

// ASCII lower case (file extensions, header values).
std::string lower_case(std::string s);

// Reads any supported file (PNG/JPEG 8/16-bit, DICOM, NIfTI-1). Errors name the file.
Image read_image(const std::filesystem::path& path);
// Decodes bytes already in memory (the server's uploads); `name` is used in messages.
Image decode_image(const std::string& bytes, const std::string& name);

// One frame as a single-channel float image in [0, 1] for display and models: window (or
// LUT, or min-max) applied, MONOCHROME1 inverted, colour converted to luminance.
cv::Mat display_frame(const Image& image, int frame = -1);  // -1 = middle frame

// Reads/writes 8- or 16-bit PNG through libpng (quiet, exact errors).
Image read_png(const std::string& bytes, const std::string& name);
// tEXt chunks (key: 1-79 Latin-1 characters, value), e.g. {"Description", "SYNTHETIC ..."}.
using PngText = std::vector<std::pair<std::string, std::string>>;
void write_png(const std::filesystem::path& path, const cv::Mat& image,
               const PngText& text = {});  // CV_8U/16U, 1 or 3 ch
std::string encode_png(const cv::Mat& image, const std::string& name, const PngText& text = {});  // the same, as bytes
Image read_jpeg(const std::string& bytes, const std::string& name);
Image read_nifti(const std::filesystem::path& path);

// Largest image medai agrees to decode (guards against decompression bombs).
inline constexpr int64_t kMaxPixels = 64LL * 1024 * 1024;    // samples (pixels x channels x frames)
inline constexpr int64_t kMaxDecodedBytes = 1LL << 30;       // memory one decode may hold at once
inline constexpr int64_t kMaxCompressedInflate = 1LL << 30;  // a gzip stream may inflate to at most this

}  // namespace medai::io
