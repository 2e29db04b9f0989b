// DICOM pixel decoding. Every transfer syntax in shared/data/dicom: uncompressed (explicit /
// implicit LE, big endian, deflate), RLE, JPEG baseline/extended/lossless, JPEG-LS through
// DCMTK's codecs; JPEG 2000 through OpenJPEG (j2k_decoder.cpp).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/dicom.h"
#include "medai/io/dicom_dataset.h"

namespace medai::io {

namespace {

[[noreturn]] void fail_dicom(const std::string& name, const std::string& why) {
  throw Error(ErrorCode::Dicom, name + ": " + why);
}

void register_codecs_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);  // DCMTK's warnings would reach stderr
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
  });
}

std::string get_string(DcmItem* ds, const DcmTagKey& tag) {
  OFString s;
  if (ds->findAndGetOFString(tag, s).good()) return std::string(s.c_str());
  return {};
}

template <typename T>
T stored_value(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Reads one stored sample as a number, honouring sign and bits stored.
double sample_value(const uint8_t* p, int bits_allocated, int bits_stored, bool is_signed) {
  switch (bits_allocated) {
    case 1: return *p;
    case 8: return is_signed ? static_cast<int8_t>(*p) : *p;
    case 16: {
      uint32_t raw = stored_value<uint16_t>(p);
      if (bits_stored < 16) {
        raw &= (1u << bits_stored) - 1;
        if (is_signed && (raw >> (bits_stored - 1)) & 1) return static_cast<double>(raw) - (1 << bits_stored);
        return raw;
      }
      return is_signed ? static_cast<int16_t>(raw) : raw;
    }
    case 32: return is_signed ? static_cast<double>(stored_value<int32_t>(p)) : stored_value<uint32_t>(p);
    default: return 0;
  }
}

struct Geometry {
  Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, pr = 0;
  Sint32 frames = 1;
  size_t samples_per_frame() const { return static_cast<size_t>(rows) * cols * spp; }
  size_t frame_bytes() const { return ba == 1 ? samples_per_frame() : samples_per_frame() * (ba / 8); }
};

// Image Pixel module attributes, checked against each other and the limits before anything
// is allocated.
Geometry read_geometry(DcmDataset* ds, const std::string& name) {
  Geometry g;
  if (ds->findAndGetUint16(DCM_Rows, g.rows).bad() || ds->findAndGetUint16(DCM_Columns, g.cols).bad() || g.rows == 0 ||
      g.cols == 0) {
    if (!ds->tagExists(DCM_PixelData) && ds->tagExists(DCM_SOPClassUID))
      fail_dicom(name, "DICOM object has no image pixel data (SOP class " + get_string(ds, DCM_SOPClassUID) + ")");
    fail_dicom(name, "not a DICOM image (Rows/Columns missing)");
  }
  ds->findAndGetUint16(DCM_SamplesPerPixel, g.spp);
  ds->findAndGetUint16(DCM_BitsAllocated, g.ba);
  if (ds->findAndGetUint16(DCM_BitsStored, g.bs).bad()) g.bs = g.ba;
  ds->findAndGetUint16(DCM_PixelRepresentation, g.pr);
  if (ds->findAndGetSint32(DCM_NumberOfFrames, g.frames).bad() || g.frames < 1) g.frames = 1;
  if (g.ba != 1 && g.ba != 8 && g.ba != 16 && g.ba != 32)
    fail_unsupported(name + ": BitsAllocated " + std::to_string(g.ba));
  if (g.spp != 1 && g.spp != 3) fail_unsupported(name + ": SamplesPerPixel " + std::to_string(g.spp));
  if (g.bs == 0 || g.bs > g.ba)
    fail_dicom(name, "BitsStored " + std::to_string(g.bs) + " is impossible with BitsAllocated " +
                         std::to_string(g.ba) + " (pixel values would be meaningless)");
  if (g.pr > 1)
    fail_dicom(name, "PixelRepresentation " + std::to_string(g.pr) + " is neither 0 (unsigned) nor 1 (signed)");
  const int64_t samples = static_cast<int64_t>(g.rows) * g.cols * g.spp * g.frames;
  // Kept at once: the stored values, the decoder's or planar copy of them, and 4-byte floats.
  const int64_t bytes = samples * (2 * std::max(1, g.ba / 8) + 4);
  if (samples > kMaxPixels || bytes > kMaxDecodedBytes)
    fail_invalid(name + ": image too large (" + std::to_string(g.rows) + "x" + std::to_string(g.cols) + ", " +
                 std::to_string(g.frames) + " frames, " + std::to_string(g.spp) + " samples per pixel; limit " +
                 std::to_string(kMaxPixels) + " samples)");
  return g;
}

void read_j2k_frames(DcmPixelData* pd, E_TransferSyntax xs, const Geometry& g, std::vector<uint8_t>& out,
                     const std::string& name) {
  const DcmRepresentationParameter* rep = nullptr;
  DcmPixelSequence* seq = nullptr;
  if (pd->getEncapsulatedRepresentation(xs, rep, seq).bad() || !seq)
    fail_dicom(name, "JPEG 2000 pixel data is not encapsulated");
  std::vector<std::pair<const uint8_t*, size_t>> fragments;
  for (unsigned long i = 1; i < seq->card(); ++i) {  // item 0 is the basic offset table
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (seq->getItem(item, i).bad() || item->getUint8Array(data).bad() || !data)
      fail_dicom(name, "unreadable pixel fragment");
    fragments.emplace_back(data, item->getLength());
  }
  const int frames = g.frames;
  std::vector<uint8_t> joined;  // only when one frame spans several fragments
  std::vector<std::pair<const uint8_t*, size_t>> codestreams;
  if (static_cast<int>(fragments.size()) == frames) {
    codestreams = fragments;
  } else if (frames == 1 && !fragments.empty()) {
    for (auto& [p, n] : fragments) joined.insert(joined.end(), p, p + n);
    codestreams.emplace_back(joined.data(), joined.size());
  } else {
    fail_unsupported(name + ": JPEG 2000 with " + std::to_string(fragments.size()) + " fragments for " +
                     std::to_string(frames) + " frames");
  }
  const size_t frame_bytes = g.frame_bytes();
  const int bytes = g.ba / 8;
  const J2kExpected expect{g.cols, g.rows, g.spp};
  out.resize(frame_bytes * frames);
  for (int f = 0; f < frames; ++f) {
    J2kFrame fr = decode_j2k(codestreams[f].first, codestreams[f].second, name, &expect);
    if (fr.samples.size() * bytes != frame_bytes)
      fail_dicom(name, "JPEG 2000 frame size does not match Rows/Columns/Samples");
    uint8_t* dst = out.data() + f * frame_bytes;
    for (size_t i = 0; i < fr.samples.size(); ++i) {
      int32_t v = fr.samples[i];
      std::memcpy(dst + i * bytes, &v, bytes);  // little-endian host: low bytes first
    }
  }
}

void read_native_frames(DcmDataset* ds, DcmPixelData* pd, const Geometry& g, const DcmXfer& xfer,
                        std::vector<uint8_t>& stored, const std::string& name) {
  OFCondition cond = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  if (cond.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
    fail_dicom(name, std::string("cannot decode pixel data in ") + xfer.getXferName() + " (" + cond.text() + ")");
  const uint8_t* src = nullptr;
  if (g.ba >= 16) {
    Uint16* p16 = nullptr;
    if (pd->getUint16Array(p16).bad() || !p16) fail_dicom(name, "pixel data unreadable");
    src = reinterpret_cast<const uint8_t*>(p16);
  } else {
    Uint8* p8 = nullptr;
    if (pd->getUint8Array(p8).bad() || !p8) fail_dicom(name, "pixel data unreadable");
    src = p8;
  }
  const size_t n_samples = g.samples_per_frame(), frame_bytes = g.frame_bytes();
  const size_t have = pd->getLength();
  const size_t need = g.ba == 1 ? (n_samples * g.frames + 7) / 8 : frame_bytes * g.frames;
  if (have < need)
    fail_dicom(name,
               "pixel data truncated: expected " + std::to_string(need) + " bytes, found " + std::to_string(have));
  if (g.ba == 1) {
    stored.resize(n_samples * g.frames);
    for (size_t i = 0; i < stored.size(); ++i) stored[i] = (src[i >> 3] >> (i & 7)) & 1;
  } else {
    stored.assign(src, src + need);
  }
  Uint16 planar = 0;
  ds->findAndGetUint16(DCM_PlanarConfiguration, planar);
  if (g.spp == 3 && planar == 1 && g.ba != 1) {  // colour-by-plane -> interleaved
    const int bytes = g.ba / 8;
    const size_t plane = static_cast<size_t>(g.rows) * g.cols;
    std::vector<uint8_t> inter(stored.size());
    for (int f = 0; f < g.frames; ++f)
      for (size_t i = 0; i < plane; ++i)
        for (int c = 0; c < 3; ++c)
          std::memcpy(&inter[f * frame_bytes + (i * 3 + c) * bytes], &stored[f * frame_bytes + (c * plane + i) * bytes],
                      bytes);
    stored.swap(inter);
  }
}

// Stored values -> modality units. A rescale that makes the values meaningless is refused.
void to_modality(DcmDataset* ds, const Geometry& g, const std::vector<uint8_t>& stored, Image& img,
                 const std::string& name) {
  Float64 slope = 1, intercept = 0;
  if (g.spp == 1) {
    if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).good()) {
      if (!std::isfinite(slope) || slope == 0)
        fail_dicom(name, "RescaleSlope " + get_string(ds, DCM_RescaleSlope) + " makes every pixel value meaningless");
    } else {
      slope = 1;
    }
    if (ds->findAndGetFloat64(DCM_RescaleIntercept, intercept).bad()) intercept = 0;
    if (!std::isfinite(intercept))
      fail_dicom(name, "RescaleIntercept " + get_string(ds, DCM_RescaleIntercept) + " is not a finite number");
  }
  const size_t total = g.samples_per_frame() * g.frames;
  img.pixels.resize(total);
  const int step = g.ba == 1 ? 1 : g.ba / 8;
  float lo = std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::lowest();
  for (size_t i = 0; i < total; ++i) {
    const float v = static_cast<float>(sample_value(&stored[i * step], g.ba, g.bs, g.pr == 1) * slope + intercept);
    img.pixels[i] = v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi))
    fail_dicom(name, "RescaleSlope " + get_string(ds, DCM_RescaleSlope) + " / RescaleIntercept " +
                         get_string(ds, DCM_RescaleIntercept) + " send pixel values beyond the range of a float");
}

// Display: VOI window and VOI LUT. An unusable window is ignored with a warning (as DCMTK does);
// an absurd LUT descriptor is refused.
void read_display(DcmDataset* ds, const Geometry& g, Image& img, const std::string& name) {
  Float64 wc = 0, ww = 0;
  const bool has_c = ds->findAndGetFloat64(DCM_WindowCenter, wc, 0).good();
  const bool has_w = ds->findAndGetFloat64(DCM_WindowWidth, ww, 0).good();
  if (has_c && has_w && std::isfinite(wc) && std::isfinite(ww) && ww >= 1) img.window = Window{wc, ww};
  else if (has_c || has_w)
    img.warnings.push_back("WindowCenter/WindowWidth '" + get_string(ds, DCM_WindowCenter) + "'/'" +
                           get_string(ds, DCM_WindowWidth) +
                           "' is not a usable window: ignored, the image's own range is used");
  DcmItem* voi = nullptr;
  if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, voi, 0).bad() || !voi) return;
  Uint16 entries = 0, first = 0, bits = 16;
  const Uint16* data = nullptr;
  unsigned long count = 0;
  if (voi->findAndGetUint16(DCM_LUTDescriptor, entries, 0).bad() ||
      voi->findAndGetUint16(DCM_LUTDescriptor, first, 1).bad() ||
      voi->findAndGetUint16(DCM_LUTDescriptor, bits, 2).bad() ||
      voi->findAndGetUint16Array(DCM_LUTData, data, &count).bad() || !data || count == 0) {
    img.warnings.push_back("VOI LUT Sequence lacks a LUTDescriptor or LUTData: ignored");
    return;
  }
  if (bits < 8 || bits > 16)
    fail_dicom(name,
               "LUTDescriptor of the VOI LUT: " + std::to_string(bits) + " bits per entry (DICOM allows 8 to 16)");
  const unsigned long declared = entries == 0 ? 65536ul : entries;  // PS3.3 C.11.1.1: 0 means 2^16
  if (declared != count)
    fail_dicom(name, "LUTDescriptor of the VOI LUT declares " + std::to_string(declared) +
                         " entries but LUTData holds " + std::to_string(count));
  DisplayLut lut;
  lut.first_mapped = g.pr == 1 ? static_cast<int16_t>(first) : first;
  lut.bits = bits;
  lut.table.assign(data, data + count);
  const auto top = static_cast<uint16_t>((1u << bits) - 1);
  bool clipped = false;
  for (auto& v : lut.table)
    if (v > top) {
      v = top;
      clipped = true;
    }
  if (clipped) img.warnings.push_back("VOI LUT entries exceed the " + std::to_string(bits) + " bits declared: clipped");
  img.lut = std::move(lut);
}

void read_spacing(DcmDataset* ds, Image& img) {
  Float64 sy = 0, sx = 0;
  if (ds->findAndGetFloat64(DCM_PixelSpacing, sy, 0).good() && ds->findAndGetFloat64(DCM_PixelSpacing, sx, 1).good()) {
    img.spacing_y_mm = sy;
    img.spacing_x_mm = sx;
  } else if (ds->findAndGetFloat64(DCM_ImagerPixelSpacing, sy, 0).good() &&
             ds->findAndGetFloat64(DCM_ImagerPixelSpacing, sx, 1).good()) {
    img.spacing_y_mm = sy;
    img.spacing_x_mm = sx;
  }
  Float64 thick = 0;
  if (ds->findAndGetFloat64(DCM_SliceThickness, thick).good() && thick > 0) img.spacing_z_mm = thick;
}

}  // namespace

std::string patient_age_years(DcmDataset* ds) {
  const std::string age = get_string(ds, DCM_PatientAge);  // nnnD, nnnW, nnnM or nnnY
  if (age.size() == 4 && std::isdigit(static_cast<unsigned char>(age[0])) &&
      std::isdigit(static_cast<unsigned char>(age[1])) && std::isdigit(static_cast<unsigned char>(age[2]))) {
    const double n = std::stoi(age.substr(0, 3));
    const double per_year = age[3] == 'Y'   ? 1
                            : age[3] == 'M' ? 12
                            : age[3] == 'W' ? 52.1775
                            : age[3] == 'D' ? 365.25
                                            : 0;
    if (per_year > 0) return std::to_string(n / per_year);
  }
  // Else the study (or acquisition) date minus the birth date, both YYYYMMDD.
  std::string when = get_string(ds, DCM_StudyDate);
  if (when.size() != 8) when = get_string(ds, DCM_AcquisitionDate);
  const std::string born = get_string(ds, DCM_PatientBirthDate);
  auto days = [](const std::string& d) -> std::optional<long> {
    if (d.size() != 8 || !std::all_of(d.begin(), d.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::nullopt;
    const long y = std::stol(d.substr(0, 4)), m = std::stol(d.substr(4, 2)), day = std::stol(d.substr(6, 2));
    if (m < 1 || m > 12 || day < 1 || day > 31) return std::nullopt;
    return y * 372 + (m - 1) * 31 + (day - 1);  // monotone in the date; years = difference / 372
  };
  const auto a = days(when), b = days(born);
  if (!a || !b || *a < *b) return {};
  return std::to_string(static_cast<double>(*a - *b) / 372.0);
}

void parse_dicom(const std::string& bytes, const std::string& name, DcmFileFormat& ff) {
  register_codecs_once();
  if (bytes.empty()) fail_dicom(name, "file is empty");
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  ff.transferInit();
  OFCondition cond = ff.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  ff.transferEnd();
  if (cond.bad()) {
    const bool has_preamble = bytes.size() >= 132 && bytes.compare(128, 4, "DICM") == 0;
    fail_dicom(name, has_preamble ? std::string("DICOM file is truncated or damaged (") + cond.text() + ")"
                                  : std::string("not a DICOM file (") + cond.text() + ")");
  }
}

DicomPixels decode_dataset(DcmDataset* ds, const std::string& name) {
  register_codecs_once();
  const Geometry g = read_geometry(ds, name);
  DcmElement* el = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) fail_dicom(name, "DICOM object has no pixel data");
  auto* pd = OFstatic_cast(DcmPixelData*, el);
  const E_TransferSyntax xs = ds->getOriginalXfer();
  const DcmXfer xfer(xs);

  DicomPixels out;
  out.bits_allocated = g.ba;
  out.bits_stored = g.bs;
  out.pixel_representation = g.pr;
  out.transfer_syntax_uid = xfer.getXferID();
  out.sop_class_uid = get_string(ds, DCM_SOPClassUID);
  if (xs == EXS_JPEG2000LosslessOnly || xs == EXS_JPEG2000) {
    if (g.ba == 1) fail_dicom(name, "BitsAllocated 1 in JPEG 2000 is not valid DICOM");
    read_j2k_frames(pd, xs, g, out.stored, name);
  } else {
    read_native_frames(ds, pd, g, xfer, out.stored, name);
  }

  Image& img = out.image;
  img.format = "dicom";
  img.width = g.cols;
  img.height = g.rows;
  img.channels = g.spp;
  img.frames = g.frames;
  to_modality(ds, g, out.stored, img, name);
  const std::string photometric = get_string(ds, DCM_PhotometricInterpretation);
  img.invert = photometric == "MONOCHROME1";
  read_display(ds, g, img, name);
  read_spacing(ds, img);
  img.meta["modality"] = get_string(ds, DCM_Modality);
  img.meta["photometric"] = photometric;
  img.meta["transfer_syntax"] = xfer.getXferName();
  img.meta["body_part"] = get_string(ds, DCM_BodyPartExamined);
  img.meta["view_position"] = get_string(ds, DCM_ViewPosition);
  if (const std::string age = patient_age_years(ds); !age.empty()) img.meta["patient_age_years"] = age;
  img.meta["bits_stored"] = std::to_string(g.bs);
  return out;
}

std::string serialize_dicom(DcmFileFormat& ff, const std::string& name) {
  E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
  if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
  std::string out;
  std::vector<char> buf(1 << 20);
  DcmOutputBufferStream stream(buf.data(), static_cast<offile_off_t>(buf.size()));
  ff.transferInit();
  OFCondition c = EC_StreamNotifyClient;
  while (c == EC_StreamNotifyClient) {
    c = ff.write(stream, xfer, EET_UndefinedLength, nullptr, EGL_recalcGL, EPD_noChange, 0, 0, 0, EWM_fileformat);
    void* p = nullptr;
    offile_off_t n = 0;
    stream.flushBuffer(p, n);
    out.append(static_cast<const char*>(p), static_cast<size_t>(n));
  }
  // A deflated transfer syntax leaves the tail of the zlib stream in the filter until flushed.
  for (int guard = 0; c.good() && !stream.isFlushed() && guard < 1000000; ++guard) {
    stream.flush();
    void* p = nullptr;
    offile_off_t n = 0;
    stream.flushBuffer(p, n);
    out.append(static_cast<const char*>(p), static_cast<size_t>(n));
  }
  ff.transferEnd();
  if (c.bad()) throw Error(ErrorCode::Dicom, name + ": cannot write the DICOM file (" + c.text() + ")");
  return out;
}

DicomPixels decode_dicom(const std::string& bytes, const std::string& name) {
  DcmFileFormat ff;
  parse_dicom(bytes, name, ff);
  return decode_dataset(ff.getDataset(), name);
}

DicomPixels read_dicom(const std::filesystem::path& path) {
  std::string bytes = core::read_file(path);
  if (bytes.empty()) fail_dicom(path.string(), "file is empty");
  return decode_dicom(bytes, path.string());
}

}  // namespace medai::io
