// DICOM pixel decoding. Every transfer syntax in shared/data/dicom: uncompressed (explicit /
// implicit LE, big endian, deflate), RLE, JPEG baseline/extended/lossless, JPEG-LS through
// DCMTK's codecs; JPEG 2000 through OpenJPEG (j2k_decoder.cpp).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstring>
#include <mutex>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/dicom.h"

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

void read_j2k_frames(DcmPixelData* pd, E_TransferSyntax xs, int frames, size_t frame_bytes, int bits_allocated,
                     std::vector<uint8_t>& out, const std::string& name) {
  const DcmRepresentationParameter* rep = nullptr;
  DcmPixelSequence* seq = nullptr;
  if (pd->getEncapsulatedRepresentation(xs, rep, seq).bad() || !seq)
    fail_dicom(name, "JPEG 2000 pixel data is not encapsulated");
  std::vector<std::vector<uint8_t>> fragments;
  for (unsigned long i = 1; i < seq->card(); ++i) {  // item 0 is the basic offset table
    DcmPixelItem* item = nullptr;
    Uint8* data = nullptr;
    if (seq->getItem(item, i).bad() || item->getUint8Array(data).bad()) fail_dicom(name, "unreadable pixel fragment");
    fragments.emplace_back(data, data + item->getLength());
  }
  std::vector<std::vector<uint8_t>> codestreams;
  if (static_cast<int>(fragments.size()) == frames) {
    codestreams = std::move(fragments);
  } else if (frames == 1) {
    codestreams.emplace_back();
    for (auto& f : fragments) codestreams[0].insert(codestreams[0].end(), f.begin(), f.end());
  } else {
    fail_unsupported(name + ": JPEG 2000 with " + std::to_string(fragments.size()) + " fragments for " +
                     std::to_string(frames) + " frames");
  }
  out.resize(frame_bytes * frames);
  const int bytes = bits_allocated / 8;
  for (int f = 0; f < frames; ++f) {
    J2kFrame fr = decode_j2k(codestreams[f].data(), codestreams[f].size(), name);
    if (fr.samples.size() * bytes != frame_bytes)
      fail_dicom(name, "JPEG 2000 frame size does not match Rows/Columns/Samples");
    uint8_t* dst = out.data() + f * frame_bytes;
    for (size_t i = 0; i < fr.samples.size(); ++i) {
      int32_t v = fr.samples[i];
      std::memcpy(dst + i * bytes, &v, bytes);  // little-endian host: low bytes first
    }
  }
}

}  // namespace

DicomPixels decode_dicom(const std::string& bytes, const std::string& name) {
  register_codecs_once();
  DcmFileFormat ff;
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
  DcmDataset* ds = ff.getDataset();

  Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, pr = 0;
  if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 ||
      cols == 0) {
    if (!ds->tagExists(DCM_PixelData) && ds->tagExists(DCM_SOPClassUID))
      fail_dicom(name, "DICOM object has no image pixel data (SOP class " + get_string(ds, DCM_SOPClassUID) + ")");
    fail_dicom(name, "not a DICOM image (Rows/Columns missing)");
  }
  ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
  ds->findAndGetUint16(DCM_BitsAllocated, ba);
  if (ds->findAndGetUint16(DCM_BitsStored, bs).bad()) bs = ba;
  ds->findAndGetUint16(DCM_PixelRepresentation, pr);
  Sint32 frames = 1;
  if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;
  if (ba != 1 && ba != 8 && ba != 16 && ba != 32) fail_unsupported(name + ": BitsAllocated " + std::to_string(ba));
  if (spp != 1 && spp != 3) fail_unsupported(name + ": SamplesPerPixel " + std::to_string(spp));
  if (static_cast<int64_t>(rows) * cols * frames > kMaxPixels)
    fail_invalid(name + ": image too large (" + std::to_string(rows) + "x" + std::to_string(cols) + "x" +
                 std::to_string(frames) + ")");

  DcmElement* el = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
    fail_dicom(name, "DICOM object has no pixel data");
  auto* pd = OFstatic_cast(DcmPixelData*, el);
  E_TransferSyntax xs = ds->getOriginalXfer();
  DcmXfer xfer(xs);

  DicomPixels out;
  out.bits_allocated = ba;
  out.bits_stored = bs;
  out.pixel_representation = pr;
  out.transfer_syntax_uid = xfer.getXferID();
  out.sop_class_uid = get_string(ds, DCM_SOPClassUID);

  const size_t n_samples = static_cast<size_t>(rows) * cols * spp;
  const size_t frame_bytes = ba == 1 ? n_samples : n_samples * (ba / 8);
  std::vector<uint8_t>& stored = out.stored;

  if (xs == EXS_JPEG2000LosslessOnly || xs == EXS_JPEG2000) {
    read_j2k_frames(pd, xs, frames, frame_bytes, ba, stored, name);
  } else {
    cond = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (cond.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
      fail_dicom(name, std::string("cannot decode pixel data in ") + xfer.getXferName() + " (" + cond.text() + ")");
    const uint8_t* src = nullptr;
    if (ba >= 16) {
      Uint16* p16 = nullptr;
      if (pd->getUint16Array(p16).bad() || !p16) fail_dicom(name, "pixel data unreadable");
      src = reinterpret_cast<const uint8_t*>(p16);
    } else {
      Uint8* p8 = nullptr;
      if (pd->getUint8Array(p8).bad() || !p8) fail_dicom(name, "pixel data unreadable");
      src = p8;
    }
    const size_t have = pd->getLength();
    const size_t need = ba == 1 ? (n_samples * frames + 7) / 8 : frame_bytes * frames;
    if (have < need)
      fail_dicom(name, "pixel data truncated: expected " + std::to_string(need) + " bytes, found " + std::to_string(have));
    if (ba == 1) {
      stored.resize(n_samples * frames);
      for (size_t i = 0; i < stored.size(); ++i) stored[i] = (src[i >> 3] >> (i & 7)) & 1;
    } else {
      stored.assign(src, src + need);
    }
    Uint16 planar = 0;
    ds->findAndGetUint16(DCM_PlanarConfiguration, planar);
    if (spp == 3 && planar == 1) {  // colour-by-plane -> interleaved
      const int bytes = ba / 8;
      const size_t plane = static_cast<size_t>(rows) * cols;
      std::vector<uint8_t> inter(stored.size());
      for (int f = 0; f < frames; ++f)
        for (size_t i = 0; i < plane; ++i)
          for (int c = 0; c < 3; ++c)
            std::memcpy(&inter[f * frame_bytes + (i * 3 + c) * bytes], &stored[f * frame_bytes + (c * plane + i) * bytes],
                        bytes);
      stored.swap(inter);
    }
  }

  Image& img = out.image;
  img.format = "dicom";
  img.width = cols;
  img.height = rows;
  img.channels = spp;
  img.frames = frames;
  std::string photometric = get_string(ds, DCM_PhotometricInterpretation);
  Float64 slope = 1, intercept = 0;
  if (spp == 1) {
    if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).bad() || slope == 0) slope = 1;
    ds->findAndGetFloat64(DCM_RescaleIntercept, intercept);
  }
  const size_t total = n_samples * frames;
  img.pixels.resize(total);
  const int step = ba == 1 ? 1 : ba / 8;
  for (size_t i = 0; i < total; ++i)
    img.pixels[i] = static_cast<float>(sample_value(&stored[i * step], ba, bs, pr == 1) * slope + intercept);

  img.invert = photometric == "MONOCHROME1";
  Float64 wc = 0, ww = 0;
  if (ds->findAndGetFloat64(DCM_WindowCenter, wc, 0).good() && ds->findAndGetFloat64(DCM_WindowWidth, ww, 0).good() &&
      ww > 0)
    img.window = Window{wc, ww};
  DcmItem* voi = nullptr;
  if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, voi, 0).good() && voi) {
    Uint16 entries = 0, first = 0, bits = 16;
    const Uint16* data = nullptr;
    unsigned long count = 0;
    if (voi->findAndGetUint16(DCM_LUTDescriptor, entries, 0).good() &&
        voi->findAndGetUint16(DCM_LUTDescriptor, first, 1).good() &&
        voi->findAndGetUint16(DCM_LUTDescriptor, bits, 2).good() &&
        voi->findAndGetUint16Array(DCM_LUTData, data, &count).good() && data && count > 0) {
      DisplayLut lut;
      lut.first_mapped = pr == 1 ? static_cast<int16_t>(first) : first;
      lut.bits = bits;
      lut.table.assign(data, data + count);
      img.lut = std::move(lut);
    }
  }
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
  img.meta["modality"] = get_string(ds, DCM_Modality);
  img.meta["photometric"] = photometric;
  img.meta["transfer_syntax"] = xfer.getXferName();
  img.meta["body_part"] = get_string(ds, DCM_BodyPartExamined);
  img.meta["bits_stored"] = std::to_string(bs);
  return out;
}

DicomPixels read_dicom(const std::filesystem::path& path) {
  std::string bytes = core::read_file(path);
  if (bytes.empty()) fail_dicom(path.string(), "file is empty");
  return decode_dicom(bytes, path.string());
}

}  // namespace medai::io
