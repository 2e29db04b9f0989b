#pragma once
// DICOM Segmentation objects (SEG, PS3.3 A.51) through DCMTK's dcmseg: a binary mask of one
// frame of a DICOM image is written as a SEG that shares its patient, study and frame of
// reference and references the source instance (and frame); a SEG is read back into its masks
// and references. DCMTK stays behind io/.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace medai::io {

// A coded concept (code value, coding scheme designator, code meaning).
struct CodedConcept {
  std::string value, scheme, meaning;
};

struct SegmentDescription {
  std::string label = "foreground";
  CodedConcept category{"91723000", "SCT", "Anatomical Structure"};
  CodedConcept type{"91723000", "SCT", "Anatomical Structure"};
  std::string algorithm_name = "medai";  // Segment Algorithm Name (the algorithm is AUTOMATIC)
  std::string algorithm_version = "0";   // Software Versions of the equipment
  std::string series_description = "medai segmentation";
};

// The SEG's bytes for `mask` (width x height, nonzero = segment) of frame `frame` (0-based) of the
// DICOM file `source_bytes` (`name` in messages). The mask must have the source's size.
std::string make_dicom_seg(const std::string& source_bytes, const std::string& name, int frame,
                           const std::vector<uint8_t>& mask, int width, int height, const SegmentDescription& segment);
// The same written atomically to `out` from the file `source`.
void write_dicom_seg(const std::filesystem::path& source, int frame, const std::vector<uint8_t>& mask, int width,
                     int height, const SegmentDescription& segment, const std::filesystem::path& out);

struct DicomSegFrame {
  int segment_number = 0;               // 1-based, into `segments`
  std::vector<uint8_t> mask;            // height x width, 0/1
  std::string source_sop_instance_uid;  // the image this frame was derived from
  int source_frame = 0;                 // its frame number (1-based; 0 = single-frame source)
};
struct DicomSeg {
  int width = 0, height = 0;
  std::vector<std::string> segments;            // labels, segment 1 first
  std::vector<std::string> segment_algorithms;  // Segment Algorithm Name of each
  std::vector<DicomSegFrame> frames;
  std::string study_instance_uid, series_instance_uid, sop_instance_uid, frame_of_reference_uid;
};
// Reads a binary SEG; Dicom errors name the file (not a SEG, fractional, damaged).
DicomSeg read_dicom_seg(const std::filesystem::path& path);
DicomSeg decode_dicom_seg(const std::string& bytes, const std::string& name);

}  // namespace medai::io
