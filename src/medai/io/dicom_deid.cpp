#include "medai/io/dicom_deid.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <set>
#include <vector>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/io/dicom_dataset.h"

namespace medai::io {

namespace {

constexpr uint32_t t(uint16_t g, uint16_t e) { return (static_cast<uint32_t>(g) << 16) | e; }

// Removed (X) — PS3.15 Table E.1-1, Basic Profile column.
const std::set<uint32_t>& removed_tags() {
  static const std::set<uint32_t> s{
      t(0x0008, 0x0080), t(0x0008, 0x0081), t(0x0008, 0x0082), t(0x0008, 0x0092), t(0x0008, 0x0094), t(0x0008, 0x1010),
      t(0x0008, 0x1030), t(0x0008, 0x103E), t(0x0008, 0x1040), t(0x0008, 0x1048), t(0x0008, 0x1049), t(0x0008, 0x1050),
      t(0x0008, 0x1052), t(0x0008, 0x1060), t(0x0008, 0x1062), t(0x0008, 0x1070), t(0x0008, 0x1072), t(0x0008, 0x1080),
      t(0x0008, 0x2111), t(0x0008, 0x4000), t(0x0010, 0x0021), t(0x0010, 0x0032), t(0x0010, 0x0050), t(0x0010, 0x0101),
      t(0x0010, 0x0102), t(0x0010, 0x1000), t(0x0010, 0x1001), t(0x0010, 0x1002), t(0x0010, 0x1005), t(0x0010, 0x1010),
      t(0x0010, 0x1020), t(0x0010, 0x1030), t(0x0010, 0x1040), t(0x0010, 0x1060), t(0x0010, 0x1080), t(0x0010, 0x1081),
      t(0x0010, 0x1090), t(0x0010, 0x2000), t(0x0010, 0x2110), t(0x0010, 0x2150), t(0x0010, 0x2152), t(0x0010, 0x2154),
      t(0x0010, 0x2160), t(0x0010, 0x2180), t(0x0010, 0x21A0), t(0x0010, 0x21B0), t(0x0010, 0x21D0), t(0x0010, 0x21F0),
      t(0x0010, 0x4000), t(0x0018, 0x1004), t(0x0018, 0x1005), t(0x0018, 0x1007), t(0x0018, 0x1400), t(0x0018, 0x4000),
      t(0x0018, 0x700A), t(0x0020, 0x4000), t(0x0020, 0x9158), t(0x0032, 0x1032), t(0x0032, 0x1033), t(0x0032, 0x1060),
      t(0x0032, 0x4000), t(0x0038, 0x0010), t(0x0038, 0x0300), t(0x0038, 0x0400), t(0x0038, 0x0500), t(0x0038, 0x4000),
      t(0x0040, 0x0006), t(0x0040, 0x0241), t(0x0040, 0x0242), t(0x0040, 0x0243), t(0x0040, 0x0244), t(0x0040, 0x0245),
      t(0x0040, 0x0253), t(0x0040, 0x0254), t(0x0040, 0x0275), t(0x0040, 0x0280), t(0x0040, 0x1001), t(0x0040, 0x1010),
      t(0x0040, 0x1400), t(0x0040, 0x2001), t(0x0040, 0x2016), t(0x0040, 0x2017), t(0x0040, 0x2400), t(0x0040, 0x3001),
      t(0x0040, 0x4037), t(0x0040, 0xA027), t(0x0040, 0xA075), t(0x0040, 0xA123), t(0x0040, 0xA730), t(0x0088, 0x0140),
      t(0x4008, 0x0114), t(0x4008, 0x011A), t(0x4008, 0x0202), t(0x4008, 0x0300), t(0x4008, 0x4000), t(0x0010, 0x1100),
      t(0x0010, 0x0035), t(0x0010, 0x0034),
  };
  return s;
}

// Replaced with an empty or dummy value (Z / D).
const std::set<uint32_t>& emptied_tags() {
  static const std::set<uint32_t> s{t(0x0008, 0x0050), t(0x0008, 0x0090), t(0x0010, 0x0030), t(0x0010, 0x0040),
                                    t(0x0020, 0x0010), t(0x0008, 0x0020), t(0x0008, 0x0030)};
  return s;
}

// Replaced with a dummy value (D): identifying, but Type 1 where the IOD has them.
const std::set<uint32_t>& dummy_tags() {
  static const std::set<uint32_t> s{t(0x0018, 0x1000)};  // DeviceSerialNumber
  return s;
}

constexpr const char* kDeidMethod = "medai: PS3.15 Basic Application Confidentiality Profile";
constexpr uint32_t kPatientName = t(0x0010, 0x0010), kPatientId = t(0x0010, 0x0020);

std::string to_decimal(unsigned __int128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(s.begin(), s.end());
  return s;
}

std::string keyed_hex(const std::string& secret, const std::string& what, const std::string& value) {
  return core::sha256_hex(secret + '\x1f' + what + '\x1f' + value);
}

// A UUID-derived UID (PS3.5 B.2): 2.25. followed by the decimal value of 128 bits.
std::string remap_uid(const std::string& secret, const std::string& uid) {
  const std::string h = keyed_hex(secret, "uid", uid);
  unsigned __int128 v = 0;
  for (int i = 0; i < 32; ++i) v = (v << 4) | static_cast<unsigned>(std::stoi(h.substr(i, 1), nullptr, 16));
  return "2.25." + to_decimal(v);
}

bool keep_uid(const std::string& v) {
  // Registry UIDs (SOP classes, transfer syntaxes, coding schemes) identify no one.
  return v.rfind("1.2.840.10008.", 0) == 0;
}

void clean(DcmItem* item, const std::string& secret, DeidReport& r) {
  for (long i = static_cast<long>(item->card()) - 1; i >= 0; --i) {
    DcmElement* el = item->getElement(static_cast<unsigned long>(i));
    const DcmTag& tag = el->getTag();
    const uint32_t key = t(tag.getGroup(), tag.getElement());
    if (tag.isPrivate()) {
      delete item->remove(el);
      ++r.private_removed;
      continue;
    }
    if (key == t(0x7FE0, 0x0010)) continue;  // pixel data: untouched
    if (removed_tags().count(key)) {
      delete item->remove(el);
      ++r.removed;
      continue;
    }
    const DcmEVR vr = el->ident();
    if (vr == EVR_SQ) {
      auto* sq = static_cast<DcmSequenceOfItems*>(el);
      for (unsigned long k = 0; k < sq->card(); ++k) clean(sq->getItem(k), secret, r);
      continue;
    }
    if (key == kPatientName) {
      el->putString("ANONYMOUS");
      ++r.replaced;
    } else if (key == kPatientId) {
      OFString v;
      el->getOFStringArray(v);
      r.pseudonym = "MEDAI-" + keyed_hex(secret, "patient", v.c_str()).substr(0, 16);
      el->putString(r.pseudonym.c_str());
      ++r.replaced;
    } else if (emptied_tags().count(key) || vr == EVR_PN) {
      // Type 2 identifiers and other people's names are emptied.
      el->putString("");
      ++r.replaced;
    } else if (vr == EVR_DA || vr == EVR_DT || vr == EVR_TM || dummy_tags().count(key)) {
      // Every other date/time and device identifier gets one dummy value (PS3.15 action D):
      // some are Type 1 (ContentDate in enhanced objects, DeviceSerialNumber in Enhanced General
      // Equipment) and may be neither empty nor absent. No longitudinal-dates option.
      OFString v;
      el->getOFStringArray(v);
      if (!v.empty()) {
        el->putString(vr == EVR_DA ? "19000101" : vr == EVR_TM ? "000000" : vr == EVR_DT ? "19000101000000" : "0");
        ++r.replaced;
      }
    } else if (vr == EVR_UI) {
      OFString v;
      el->getOFStringArray(v);
      if (!v.empty() && !keep_uid(v.c_str())) {
        el->putString(remap_uid(secret, v.c_str()).c_str());
        ++r.uids_remapped;
      }
    }
  }
}

DeidReport run(DcmFileFormat& ff, const std::string& secret) {
  DeidReport r;
  clean(ff.getDataset(), secret, r);
  // File meta information: the instance UID follows the dataset's.
  DcmMetaInfo* meta = ff.getMetaInfo();
  OFString sop;
  if (meta && ff.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, sop).good())
    meta->putAndInsertString(DCM_MediaStorageSOPInstanceUID, sop.c_str());
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  ds->putAndInsertString(DCM_DeidentificationMethod, kDeidMethod);  // LO: at most 64 characters
  if (r.pseudonym.empty()) {
    ds->putAndInsertString(DCM_PatientID, "MEDAI-UNKNOWN");
    ds->putAndInsertString(DCM_PatientName, "ANONYMOUS");
  }
  return r;
}

DeidReport deidentify_parsed(DcmFileFormat& ff, const std::string& bytes, const std::string& name,
                             const std::string& secret) {
  if (secret.size() < 8) fail_invalid("de-identification secret must have at least 8 characters");
  parse_dicom(bytes, name, ff);
  return run(ff, secret);
}

}  // namespace

bool deid_is_identifying_tag(uint32_t tag) {
  return removed_tags().count(tag) || emptied_tags().count(tag) || dummy_tags().count(tag) || tag == kPatientName ||
         tag == kPatientId;
}

DeidReport deidentify_dicom_file(const std::filesystem::path& in, const std::filesystem::path& out,
                                 const std::string& secret) {
  if (!std::filesystem::exists(in)) fail_not_found(in.string() + ": no such file");
  DeidReport r;
  const std::string bytes = deidentify_dicom_bytes(core::read_file(in), in.string(), secret, &r);
  core::write_file_atomic(out, bytes);
  return r;
}

std::string deidentify_dicom_bytes(const std::string& bytes, const std::string& name, const std::string& secret,
                                   DeidReport* report) {
  DcmFileFormat ff;
  const DeidReport r = deidentify_parsed(ff, bytes, name, secret);
  if (report) *report = r;
  return serialize_dicom(ff, name);
}

DeidentifiedDicom deidentify_and_decode_dicom(const std::string& bytes, const std::string& name,
                                              const std::string& secret) {
  DcmFileFormat ff;
  DeidentifiedDicom out;
  if (secret.size() < 8) fail_invalid("de-identification secret must have at least 8 characters");
  parse_dicom(bytes, name, ff);
  const std::string age = patient_age_years(ff.getDataset());  // the profile removes what it comes from
  out.report = run(ff, secret);
  out.bytes = serialize_dicom(ff, name);               // before decoding changes the representation
  out.pixels = decode_dataset(ff.getDataset(), name);  // the same parsed dataset
  if (!age.empty()) out.pixels.image.meta["patient_age_years"] = age;
  return out;
}

}  // namespace medai::io
