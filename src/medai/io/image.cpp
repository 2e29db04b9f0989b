#include "medai/io/image.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/dicom.h"

namespace medai::io {

namespace fs = std::filesystem;

std::string lower_case(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

ImageFormat detect_format(const fs::path& path, const std::string& head) {
  auto u = [&](size_t i) { return i < head.size() ? static_cast<unsigned char>(head[i]) : 0u; };
  if (head.size() >= 8 && u(0) == 0x89 && head.compare(1, 3, "PNG") == 0) return ImageFormat::Png;
  if (u(0) == 0xFF && u(1) == 0xD8) return ImageFormat::Jpeg;
  if (head.size() >= 132 && head.compare(128, 4, "DICM") == 0) return ImageFormat::Dicom;
  const std::string name = lower_case(path.filename().string());
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".nii") || ends(".nii.gz")) return ImageFormat::Nifti;
  if (ends(".dcm") || ends(".dicom")) return ImageFormat::Dicom;
  return ImageFormat::Unknown;
}

Image read_image(const fs::path& path) {
  if (!fs::exists(path)) fail_not_found(path.string() + ": no such file");
  if (fs::is_directory(path)) fail_invalid(path.string() + ": is a folder, expected an image file");
  std::string bytes = core::read_file(path);
  if (bytes.empty()) fail_invalid(path.string() + ": file is empty");
  switch (detect_format(path, bytes.substr(0, 132))) {
    case ImageFormat::Png: return read_png(bytes, path.string());
    case ImageFormat::Jpeg: return read_jpeg(bytes, path.string());
    case ImageFormat::Dicom: return read_dicom(path).image;
    case ImageFormat::Nifti: return read_nifti(path);
    default: fail_unsupported(path.string() + ": unrecognised image format (expected PNG, JPEG, DICOM or NIfTI)");
  }
}

Image decode_image(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) fail_invalid(name + ": empty upload");
  switch (detect_format(name, bytes.substr(0, 132))) {
    case ImageFormat::Png: return read_png(bytes, name);
    case ImageFormat::Jpeg: return read_jpeg(bytes, name);
    case ImageFormat::Dicom: return decode_dicom(bytes, name).image;
    default: fail_unsupported(name + ": unrecognised image format (expected PNG, JPEG or DICOM)");
  }
}

namespace {
// The frame header (SOFn) of a JPEG stream: width, height and components, read before decoding
// so an absurd declared size is refused without allocating. Throws naming `name`.
struct JpegFrame {
  int width = 0, height = 0, components = 0;
};
JpegFrame jpeg_frame_header(const std::string& b, const std::string& name) {
  auto u = [&](size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(b[i])); };
  size_t i = 2;  // after SOI
  while (i + 4 <= b.size()) {
    if (u(i) != 0xFF) fail_invalid(name + ": corrupt JPEG (marker expected at byte " + std::to_string(i) + ")");
    const unsigned marker = u(i + 1);
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length
      i += 2;
      continue;
    }
    const size_t len = (u(i + 2) << 8) | u(i + 3);
    if (len < 2 || i + 2 + len > b.size()) break;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (len < 8) fail_invalid(name + ": corrupt JPEG (frame header too short)");
      return {static_cast<int>((u(i + 7) << 8) | u(i + 8)), static_cast<int>((u(i + 5) << 8) | u(i + 6)),
              static_cast<int>(u(i + 9))};
    }
    if (marker == 0xDA || marker == 0xD9) break;  // scan data before any frame header
    i += 2 + len;
  }
  fail_invalid(name + ": corrupt or truncated JPEG (no frame header)");
}
}  // namespace

Image read_jpeg(const std::string& bytes, const std::string& name) {
  // OpenCV picks its decoder by signature: without the JPEG one, bytes with "DICM" at offset 128
  // would reach GDCM, which aborts the process on malformed input (found by fuzzing).
  if (bytes.size() < 4 || bytes.compare(0, 3, "\xFF\xD8\xFF") != 0)
    fail_invalid(name + ": not a JPEG file (no start-of-image marker)");
  const JpegFrame fh = jpeg_frame_header(bytes, name);
  if (fh.width <= 0 || fh.height <= 0 || fh.components <= 0)
    fail_invalid(name + ": JPEG frame header declares " + std::to_string(fh.width) + "x" + std::to_string(fh.height) +
                 " pixels with " + std::to_string(fh.components) + " components");
  if (static_cast<int64_t>(fh.width) * fh.height * fh.components > kMaxPixels)
    fail_invalid(name + ": JPEG declares " + std::to_string(fh.width) + "x" + std::to_string(fh.height) +
                 " pixels, over the limit of " + std::to_string(kMaxPixels) + " samples");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) fail_invalid(name + ": JPEG file too large");
  cv::Mat m;
  try {
    cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    m.release();
  }
  if (m.empty()) fail_invalid(name + ": corrupt or truncated JPEG (decoder failed)");
  if (m.cols != fh.width || m.rows != fh.height)
    fail_invalid(name + ": corrupt JPEG (decoded size differs from its header)");
  Image img;
  img.format = "jpeg";
  img.width = m.cols;
  img.height = m.rows;
  img.channels = m.channels() >= 3 ? 3 : 1;
  if (m.channels() == 4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
  if (img.channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  double maxv = m.depth() == CV_16U ? 65535.0 : 255.0;
  cv::Mat f;
  m.convertTo(f, CV_MAKETYPE(CV_32F, img.channels));
  img.pixels.assign(f.ptr<float>(), f.ptr<float>() + f.total() * f.channels());
  img.window = Window{maxv / 2.0 + 0.5, maxv + 1.0};  // DICOM linear VOI: exactly x / maxv
  return img;
}

namespace {
// Linear VOI function of DICOM PS3.3 C.11.2.1.2.1, output in [0, 1].
inline float apply_window(float x, double c, double w) {
  if (w < 1) w = 1;
  double lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2;
  if (x <= lo) return 0.f;
  if (x > hi) return 1.f;
  return static_cast<float>((x - (c - 0.5)) / (w - 1) + 0.5);
}
}  // namespace

cv::Mat display_frame(const Image& image, int frame) {
  if (image.pixels.empty() || image.width <= 0 || image.height <= 0) fail_invalid("image has no pixels");
  if (frame < 0) frame = image.frames / 2;
  if (frame >= image.frames) fail_invalid("frame " + std::to_string(frame) + " out of range");
  const float* src = image.frame_data(frame);
  const size_t n = static_cast<size_t>(image.width) * image.height;
  cv::Mat out(image.height, image.width, CV_32F);
  float* dst = out.ptr<float>();
  for (size_t i = 0; i < n; ++i) {
    if (image.channels == 3) dst[i] = 0.299f * src[3 * i] + 0.587f * src[3 * i + 1] + 0.114f * src[3 * i + 2];
    else dst[i] = src[i * image.channels];
  }
  if (image.lut && !image.lut->table.empty()) {
    const auto& lut = *image.lut;
    const int bits = std::clamp(lut.bits, 1, 16);  // readers refuse other values; never shift past 31
    double scale = 1.0 / static_cast<double>((1u << bits) - 1);
    int64_t last = static_cast<int64_t>(lut.table.size()) - 1;
    for (size_t i = 0; i < n; ++i) {
      int64_t idx = std::clamp<int64_t>(static_cast<int64_t>(std::lround(dst[i])) - lut.first_mapped, 0, last);
      dst[i] = static_cast<float>(lut.table[idx] * scale);
    }
  } else if (image.window) {
    for (size_t i = 0; i < n; ++i) dst[i] = apply_window(dst[i], image.window->center, image.window->width);
  } else {
    double lo, hi;
    cv::minMaxLoc(out, &lo, &hi);
    double range = hi > lo ? hi - lo : 1.0;
    out = (out - lo) / range;
  }
  if (image.invert) out = 1.0f - out;
  return out;
}

}  // namespace medai::io
