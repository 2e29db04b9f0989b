// PNG through libpng directly: exact 8/16-bit values, a size check before any allocation
// (PNG bombs), and errors turned into one clear message instead of stderr noise.
#include <png.h>

#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/image.h"

namespace medai::io {

namespace {
struct ReadState {
  const std::string* bytes;
  size_t pos;
};
struct ErrorState {
  char message[256] = {0};
};

void on_error(png_structp png, png_const_charp msg) {
  auto* st = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(st->message, sizeof st->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

void read_fn(png_structp png, png_bytep out, png_size_t n) {
  auto* rs = static_cast<ReadState*>(png_get_io_ptr(png));
  if (rs->pos + n > rs->bytes->size()) png_error(png, "file is truncated");
  std::memcpy(out, rs->bytes->data() + rs->pos, n);
  rs->pos += n;
}
}  // namespace

Image read_png(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0)
    fail_invalid(name + ": not a PNG file (bad signature)");
  ErrorState es;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &es, on_error, on_warning);
  png_infop info = png_create_info_struct(png);
  ReadState rs{&bytes, 0};
  // Everything that libpng may longjmp over lives before setjmp or is trivially destructible.
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, channels = 0;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail_invalid(name + ": corrupt PNG (" + std::string(es.message) + ")");
  }
  png_set_read_fn(png, &rs, read_fn);
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_read_info(png, info);
  png_get_IHDR(png, info, &w, &h, &depth, &color, nullptr, nullptr, nullptr);
  if (static_cast<int64_t>(w) * h > kMaxPixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail_invalid(name + ": PNG declares " + std::to_string(w) + "x" + std::to_string(h) +
                 " pixels, over the limit of " + std::to_string(kMaxPixels));
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (color & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  if (depth == 16) png_set_swap(png);  // host (little-endian) order
  png_read_update_info(png, info);
  channels = png_get_channels(png, info);
  depth = png_get_bit_depth(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  raw.resize(rowbytes * h);
  rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) rows[y] = raw.data() + y * rowbytes;
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);

  Image img;
  img.format = "png";
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  img.channels = channels >= 3 ? 3 : 1;
  const size_t n = static_cast<size_t>(w) * h;
  img.pixels.resize(n * img.channels);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < img.channels; ++c) {
      size_t k = i * channels + c;
      img.pixels[i * img.channels + c] = depth == 16 ? reinterpret_cast<const uint16_t*>(raw.data())[k] : raw[k];
    }
  double maxv = depth == 16 ? 65535.0 : 255.0;
  img.window = Window{maxv / 2.0 + 0.5, maxv + 1.0};  // DICOM linear VOI: exactly x / maxv
  img.meta["bit_depth"] = std::to_string(depth);
  return img;
}

std::string encode_png(const cv::Mat& image, const std::string& name, const PngText& text) {
  if (image.empty()) fail_invalid("PNG: empty image for " + name);
  const int depth = image.depth() == CV_16U ? 16 : 8;
  if (image.depth() != CV_8U && image.depth() != CV_16U) fail_invalid("PNG: only 8/16-bit images");
  const int ch = image.channels();
  if (ch != 1 && ch != 3) fail_invalid("PNG: only 1 or 3 channels");
  std::string out;
  ErrorState es;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &es, on_error, on_warning);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail_io("encoding " + name + " as PNG failed: " + es.message);
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
      },
      [](png_structp) {});
  png_set_IHDR(png, info, image.cols, image.rows, depth, ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_text> chunks(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i].first.empty() || text[i].first.size() > 79) fail_invalid("PNG: a text key must have 1-79 characters");
    chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
    chunks[i].key = const_cast<png_charp>(text[i].first.c_str());
    chunks[i].text = const_cast<png_charp>(text[i].second.c_str());
    chunks[i].text_length = text[i].second.size();
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
  png_write_info(png, info);
  if (depth == 16) png_set_swap(png);
  if (ch == 3) png_set_bgr(png);  // callers hand us OpenCV's BGR order for colour images
  for (int y = 0; y < image.rows; ++y) png_write_row(png, const_cast<png_bytep>(image.ptr<png_byte>(y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png(const std::filesystem::path& path, const cv::Mat& image, const PngText& text) {
  core::write_file_atomic(path, encode_png(image, path.string(), text));
}

}  // namespace medai::io
