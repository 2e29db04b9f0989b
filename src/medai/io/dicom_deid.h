#pragma once
// DICOM de-identification after the DICOM PS3.15 Basic Application Level Confidentiality Profile
// (Annex E): patient identity, other people's names, institutions, addresses, free-text
// descriptions, dates and device identifiers are removed or replaced; every instance UID is
// remapped consistently (the same input UID and secret give the same new 2.25.<n> UID);
// private tags are removed; pixel data is left exactly as it was. DCMTK stays behind io/.
#include <cstdint>
#include <filesystem>
#include <string>

#include "medai/io/dicom.h"

namespace medai::io {

struct DeidReport {
  int removed = 0, replaced = 0, uids_remapped = 0, private_removed = 0;
  std::string pseudonym;  // the replacement patient ID (derived from the original and the secret)
};

// `secret` keys the UID and patient-ID mapping: keep it private and stable to link a patient's
// studies; change it to unlink. Throws Dicom/InvalidInput errors naming the file.
DeidReport deidentify_dicom_file(const std::filesystem::path& in, const std::filesystem::path& out,
                                 const std::string& secret);
// The same for bytes in memory (the server's path); returns the de-identified file's bytes.
std::string deidentify_dicom_bytes(const std::string& bytes, const std::string& name, const std::string& secret,
                                   DeidReport* report = nullptr);

// The server's path: parses the upload once, de-identifies it in memory, keeps the de-identified
// file's bytes (for the audit hash) and decodes the pixels from that same dataset.
struct DeidentifiedDicom {
  std::string bytes;
  DicomPixels pixels;
  DeidReport report;
};
DeidentifiedDicom deidentify_and_decode_dicom(const std::string& bytes, const std::string& name,
                                              const std::string& secret);

// Tags (group << 16 | element) the profile removes or replaces, for tests and documentation.
bool deid_is_identifying_tag(uint32_t tag);

}  // namespace medai::io
