#pragma once
// Private to io/: the parsed-dataset entry points shared by the DICOM reader and the
// de-identifier, so an upload is parsed once, de-identified in memory and decoded from that
// same dataset. Only io/ files that already include DCMTK include this.
#include <string>

#include "medai/io/dicom.h"

class DcmFileFormat;
class DcmDataset;

namespace medai::io {

// Parses bytes into `ff`; Dicom errors name `name` ("not a DICOM file", "truncated or damaged").
void parse_dicom(const std::string& bytes, const std::string& name, DcmFileFormat& ff);
// Decodes the pixels of a parsed dataset (may change its representation to uncompressed).
DicomPixels decode_dataset(DcmDataset* ds, const std::string& name);
// The patient's age in years as text ("64.5"), from PatientAge or the study date minus the birth
// date; empty when neither is there. Only the age leaves this function, never the dates.
std::string patient_age_years(DcmDataset* ds);
// The file's bytes (its dataset's transfer syntax, explicit little endian when unknown).
std::string serialize_dicom(DcmFileFormat& ff, const std::string& name);

}  // namespace medai::io
