// JPEG 2000 for DICOM: DCMTK's free edition has no J2K codec, so encapsulated fragments are
// handed to OpenJPEG here.
#include <openjpeg.h>

#include <cstring>

#include "medai/core/error.h"
#include "medai/io/dicom.h"
#include "medai/io/image.h"

namespace medai::io {

namespace {
struct MemStream {
  const uint8_t* data;
  size_t size, pos;
};
OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);
  size_t take = std::min<size_t>(n, s->size - s->pos);
  std::memcpy(buf, s->data + s->pos, take);
  s->pos += take;
  return take;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (n < 0) {
    if (static_cast<size_t>(-n) > s->pos) return -1;
  } else if (s->pos + n > s->size) {
    n = static_cast<OPJ_OFF_T>(s->size - s->pos);
  }
  s->pos += n;
  return n;
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (n < 0 || static_cast<size_t>(n) > s->size) return OPJ_FALSE;
  s->pos = static_cast<size_t>(n);
  return OPJ_TRUE;
}
void quiet(const char*, void*) {}
}  // namespace

J2kFrame decode_j2k(const uint8_t* data, size_t size, const std::string& name, const J2kExpected* expected) {
  if (size < 4) throw Error(ErrorCode::Dicom, name + ": JPEG 2000 fragment is empty");
  bool jp2 = size >= 12 && std::memcmp(data + 4, "jP  ", 4) == 0;
  opj_codec_t* codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
  opj_set_error_handler(codec, quiet, nullptr);
  opj_set_warning_handler(codec, quiet, nullptr);
  opj_set_info_handler(codec, quiet, nullptr);
  opj_dparameters_t params;
  opj_set_default_decoder_parameters(&params);
  opj_setup_decoder(codec, &params);

  MemStream ms{data, size, 0};
  opj_stream_t* stream = opj_stream_default_create(OPJ_TRUE);
  opj_stream_set_user_data(stream, &ms, nullptr);
  opj_stream_set_user_data_length(stream, size);
  opj_stream_set_read_function(stream, mem_read);
  opj_stream_set_skip_function(stream, mem_skip);
  opj_stream_set_seek_function(stream, mem_seek);

  opj_image_t* image = nullptr;
  bool ok = opj_read_header(stream, codec, &image) && image && image->numcomps > 0;
  std::string mismatch;  // the header is checked against the DICOM attributes before decoding
  if (ok) {
    const int64_t w = static_cast<int64_t>(image->x1) - image->x0, h = static_cast<int64_t>(image->y1) - image->y0;
    if (expected &&
        (w != expected->width || h != expected->height || static_cast<int>(image->numcomps) != expected->components))
      mismatch = "JPEG 2000 codestream is " + std::to_string(w) + "x" + std::to_string(h) + " with " +
                 std::to_string(image->numcomps) + " components but Rows/Columns/SamplesPerPixel say " +
                 std::to_string(expected->height) + "x" + std::to_string(expected->width) + " with " +
                 std::to_string(expected->components);
    else if (w <= 0 || h <= 0 || w * h * image->numcomps > kMaxPixels)
      mismatch =
          "JPEG 2000 codestream declares " + std::to_string(w) + "x" + std::to_string(h) + " pixels, over the limit";
    for (OPJ_UINT32 c = 0; mismatch.empty() && c < image->numcomps; ++c)
      if (image->comps[c].prec < 1 || image->comps[c].prec > 31)
        mismatch = "JPEG 2000 component precision out of range";
  }
  if (ok && mismatch.empty()) ok = opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
  opj_stream_destroy(stream);
  opj_destroy_codec(codec);
  if (!mismatch.empty()) {
    opj_image_destroy(image);
    throw Error(ErrorCode::Dicom, name + ": " + mismatch);
  }
  if (!ok || !image || image->numcomps == 0) {
    if (image) opj_image_destroy(image);
    throw Error(ErrorCode::Dicom, name + ": JPEG 2000 pixel data could not be decoded");
  }
  J2kFrame f;
  f.components = static_cast<int>(image->numcomps);
  f.width = static_cast<int>(image->comps[0].w);
  f.height = static_cast<int>(image->comps[0].h);
  f.precision = static_cast<int>(image->comps[0].prec);
  f.is_signed = image->comps[0].sgnd != 0;
  const size_t n = static_cast<size_t>(f.width) * f.height;
  f.samples.resize(n * f.components);
  for (int c = 0; c < f.components; ++c) {
    if (image->comps[c].w != image->comps[0].w || image->comps[c].h != image->comps[0].h) {
      opj_image_destroy(image);
      throw Error(ErrorCode::Unsupported, name + ": subsampled JPEG 2000 components are not supported");
    }
    if (!image->comps[c].data) {
      opj_image_destroy(image);
      throw Error(ErrorCode::Dicom, name + ": JPEG 2000 pixel data could not be decoded (component missing)");
    }
    for (size_t i = 0; i < n; ++i) f.samples[i * f.components + c] = image->comps[c].data[i];
  }
  opj_image_destroy(image);
  return f;
}

}  // namespace medai::io
