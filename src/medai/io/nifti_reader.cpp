// NIfTI-1 (.nii, .nii.gz), either byte order. Frames are the z slices of every volume in
// order (t-major), so frame k of volume v is frames[v * nz + k].
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "medai/core/error.h"
#include "medai/io/image.h"

namespace medai::io {

namespace {
std::string read_maybe_gz(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) fail_not_found(path.string() + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, n);
    if (static_cast<int64_t>(out.size()) > kMaxCompressedInflate) {
      gzclose(f);
      fail_invalid(path.string() + ": inflates to more than " + std::to_string(kMaxCompressedInflate >> 20) +
                   " MiB (a NIfTI volume that large is refused)");
    }
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string why = msg ? msg : "";  // gzerror's text lives in the stream: copy before closing
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    fail_invalid(path.string() + ": corrupt gzip stream (" + why + ")");
  return out;
}

template <typename T>
T get(const std::string& b, size_t off, bool swap) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  if (swap) {
    auto* p = reinterpret_cast<uint8_t*>(&v);
    std::reverse(p, p + sizeof v);
  }
  return v;
}
}  // namespace

Image read_nifti(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::string b = read_maybe_gz(path);
  if (b.size() < 348) fail_invalid(name + ": too short for a NIfTI-1 header (" + std::to_string(b.size()) + " bytes)");
  bool swap = false;
  int32_t hdr = get<int32_t>(b, 0, false);
  if (hdr != 348) {
    swap = true;
    if (get<int32_t>(b, 0, true) != 348) fail_invalid(name + ": not a NIfTI-1 file (sizeof_hdr is not 348)");
  }
  if (std::memcmp(b.data() + 344, "n+1\0", 4) != 0 && std::memcmp(b.data() + 344, "ni1\0", 4) != 0)
    fail_invalid(name + ": NIfTI magic missing");
  if (std::memcmp(b.data() + 344, "ni1\0", 4) == 0)
    fail_unsupported(name + ": two-file NIfTI (.hdr/.img) is not supported; use a single .nii");
  int16_t dim[8];
  for (int i = 0; i < 8; ++i) dim[i] = get<int16_t>(b, 40 + 2 * i, swap);
  int16_t datatype = get<int16_t>(b, 70, swap);
  float pixdim[8];
  for (int i = 0; i < 8; ++i) pixdim[i] = get<float>(b, 76 + 4 * i, swap);
  float vox_offset = get<float>(b, 108, swap);
  float scl_slope = get<float>(b, 112, swap), scl_inter = get<float>(b, 116, swap);
  if (dim[0] < 2 || dim[0] > 7) fail_invalid(name + ": dim[0]=" + std::to_string(dim[0]) + " is invalid");
  const int64_t nx = dim[1], ny = dim[2], nz = dim[0] >= 3 ? dim[3] : 1;
  if (nx <= 0 || ny <= 0 || nz <= 0)
    fail_invalid(name + ": dim[1..3] = " + std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) +
                 " has a non-positive dimension");
  // Each factor is at most 32767, so the running product is checked before it can overflow.
  int64_t count = nx * ny * nz, nt = 1;
  for (int i = 4; i <= dim[0]; ++i) {
    const int64_t d = std::max<int16_t>(dim[i], 1);
    nt *= d;
    count *= d;
    if (count > kMaxPixels) break;
  }
  if (count > kMaxPixels)
    fail_invalid(name + ": dim[] declares more than " + std::to_string(kMaxPixels) + " voxels (volume too large)");
  int bytes = 0;
  switch (datatype) {
    case 2:
    case 256: bytes = 1; break;  // uint8, int8
    case 4:
    case 512: bytes = 2; break;  // int16, uint16
    case 8:
    case 768:
    case 16: bytes = 4; break;  // int32, uint32, float32
    case 64: bytes = 8; break;  // float64
    default: fail_unsupported(name + ": NIfTI datatype " + std::to_string(datatype));
  }
  if (!std::isfinite(vox_offset) || vox_offset < 348 || vox_offset > static_cast<float>(b.size()))
    fail_invalid(name + ": vox_offset " + std::to_string(vox_offset) + " is outside the file (348.." +
                 std::to_string(b.size()) + ")");
  const size_t off = static_cast<size_t>(vox_offset);
  if (off + static_cast<size_t>(count) * bytes > b.size())
    fail_invalid(name + ": voxel data truncated (needs " + std::to_string(count * bytes) + " bytes at offset " +
                 std::to_string(off) + ", file has " + std::to_string(b.size()) + ")");
  Image img;
  img.format = "nifti";
  img.width = static_cast<int>(nx);
  img.height = static_cast<int>(ny);
  img.frames = static_cast<int>(nz * nt);  // <= count <= kMaxPixels: fits an int
  img.spacing_x_mm = pixdim[1] > 0 ? pixdim[1] : 1;
  img.spacing_y_mm = pixdim[2] > 0 ? pixdim[2] : 1;
  img.spacing_z_mm = pixdim[3] > 0 ? pixdim[3] : 1;
  img.pixels.resize(count);
  const bool scale = scl_slope != 0 && std::isfinite(scl_slope);
  if (scale && !std::isfinite(scl_inter))
    fail_invalid(name + ": scl_inter is not a finite number (every voxel would be meaningless)");
  for (int64_t i = 0; i < count; ++i) {
    size_t p = off + i * bytes;
    double v = 0;
    switch (datatype) {
      case 2: v = static_cast<uint8_t>(b[p]); break;
      case 256: v = static_cast<int8_t>(b[p]); break;
      case 4: v = get<int16_t>(b, p, swap); break;
      case 512: v = get<uint16_t>(b, p, swap); break;
      case 8: v = get<int32_t>(b, p, swap); break;
      case 768: v = get<uint32_t>(b, p, swap); break;
      case 16: v = get<float>(b, p, swap); break;
      case 64: v = get<double>(b, p, swap); break;
    }
    img.pixels[i] = static_cast<float>(scale ? v * scl_slope + scl_inter : v);
  }
  img.meta["datatype"] = std::to_string(datatype);
  img.meta["byte_order"] = swap ? "big" : "little";
  img.meta["dims"] =
      std::to_string(nx) + "x" + std::to_string(ny) + "x" + std::to_string(nz) + "x" + std::to_string(nt);
  img.meta["volumes"] = std::to_string(nt);
  return img;
}

}  // namespace medai::io
