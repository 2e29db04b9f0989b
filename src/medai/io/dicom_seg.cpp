// DICOM SEG writing and reading through DCMTK's dcmseg (this folder is the only one that
// includes DCMTK). One binary segment, one frame: the mask of the frame medai segmented.
#include "medai/io/dicom_seg.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmfg/fgderimg.h>
#include <dcmtk/dcmfg/fgfracon.h>
#include <dcmtk/dcmfg/fgpixmsr.h>
#include <dcmtk/dcmfg/fgplanor.h>
#include <dcmtk/dcmfg/fgplanpo.h>
#include <dcmtk/dcmfg/fgseg.h>
#include <dcmtk/dcmiod/iodreferences.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmseg/segment.h>
#include <dcmtk/dcmseg/segutils.h>

#include <memory>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/dicom_dataset.h"

namespace medai::io {

namespace {

[[noreturn]] void fail_dicom(const std::string& name, const std::string& why) {
  throw Error(ErrorCode::Dicom, name + ": " + why);
}

void check(const OFCondition& c, const std::string& name, const std::string& what) {
  if (c.bad()) fail_dicom(name, "cannot " + what + " (" + c.text() + ")");
}

std::string text(DcmItem* ds, const DcmTagKey& tag, unsigned long pos = 0) {
  OFString s;
  return ds->findAndGetOFString(tag, s, pos).good() ? std::string(s.c_str()) : std::string();
}

CodeSequenceMacro code(const CodedConcept& c) { return CodeSequenceMacro(c.value, c.scheme, c.meaning); }

// What the SEG takes from its source image.
struct Source {
  std::string sop_class, sop_instance, study, series, patient_id, frame_of_reference;
  int rows = 0, cols = 0, frames = 1;
  bool frame_references = false;               // a multi-frame class: references name the frame
  std::string pixel_spacing, slice_thickness;  // backslash-separated as stored
  std::vector<std::string> orientation, position;
  std::string patient_orientation;
};

Source read_source(DcmDataset* ds, const std::string& name) {
  Source s;
  s.sop_class = text(ds, DCM_SOPClassUID);
  s.sop_instance = text(ds, DCM_SOPInstanceUID);
  s.study = text(ds, DCM_StudyInstanceUID);
  s.series = text(ds, DCM_SeriesInstanceUID);
  s.patient_id = text(ds, DCM_PatientID);
  s.frame_of_reference = text(ds, DCM_FrameOfReferenceUID);
  if (s.sop_class.empty() || s.sop_instance.empty() || s.study.empty() || s.series.empty())
    fail_dicom(name, "the source needs SOP Class, SOP Instance, Study and Series Instance UIDs to be referenced");
  Uint16 rows = 0, cols = 0;
  ds->findAndGetUint16(DCM_Rows, rows);
  ds->findAndGetUint16(DCM_Columns, cols);
  s.rows = rows;
  s.cols = cols;
  Sint32 frames = 1;
  if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1) s.frames = frames;
  // The single-frame Secondary Capture class may not be referenced by frame, even when a file
  // carries several (dciodvfy: "shall not be present for ... not multi-frame").
  s.frame_references = s.frames > 1 && s.sop_class != UID_SecondaryCaptureImageStorage;
  s.patient_orientation = text(ds, DCM_PatientOrientation, 0);
  if (!s.patient_orientation.empty()) s.patient_orientation += "\\" + text(ds, DCM_PatientOrientation, 1);
  OFString v;
  if (ds->findAndGetOFStringArray(DCM_PixelSpacing, v).good()) s.pixel_spacing = v.c_str();
  if (ds->findAndGetOFString(DCM_SliceThickness, v).good()) s.slice_thickness = v.c_str();
  for (unsigned long k = 0; k < 6; ++k)
    if (auto t = text(ds, DCM_ImageOrientationPatient, k); !t.empty()) s.orientation.push_back(t);
  for (unsigned long k = 0; k < 3; ++k)
    if (auto t = text(ds, DCM_ImagePositionPatient, k); !t.empty()) s.position.push_back(t);
  return s;
}

std::unique_ptr<DcmSegmentation> create_seg(const Source& src, DcmDataset* ds, const SegmentDescription& d,
                                            const std::string& name) {
  IODGeneralEquipmentModule::EquipmentInfo equipment("medai", "medai", "1", d.algorithm_version);
  ContentIdentificationMacro content("1", "MEDAI_SEG", d.series_description, "medai");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::createBinarySegmentation(raw, static_cast<Uint16>(src.rows), static_cast<Uint16>(src.cols),
                                                  equipment, content),
        name, "create the segmentation object");
  std::unique_ptr<DcmSegmentation> seg(raw);
  check(seg->importFromSourceImage(*ds, OFTrue), name, "take patient and study from the source");
  // Without a frame of reference in the source the SEG has none either (PS3.3 A.51.3: the module
  // is conditional); DCMTK 3.6.7 would otherwise insist on one.
  // Patient Orientation is then required (type 2: present, empty when unknown).
  if (src.frame_of_reference.empty()) {
    for (const DcmTagKey& tag : {DCM_FrameOfReferenceUID, DCM_PositionReferenceIndicator})
      if (IODRule* rule = seg->getRules()->getByTag(tag)) rule->setType("3");
    if (IODRule* rule = seg->getRules()->getByTag(DCM_PatientOrientation)) rule->setType("2");
    if (!src.patient_orientation.empty())
      seg->getGeneralImage().setPatientOrientation(src.patient_orientation.c_str(), OFFalse);
  }
  seg->getSeries().setSeriesDescription(d.series_description.c_str());
  seg->getSeries().setSeriesNumber("9001");
  DcmSegment* segment = nullptr;
  check(DcmSegment::create(segment, d.label.c_str(), code(d.category), code(d.type), DcmSegTypes::SAT_AUTOMATIC,
                           d.algorithm_name.c_str()),
        name, "describe the segment");
  Uint16 number = 0;
  check(seg->addSegment(segment, number), name, "add the segment");  // the object owns it now
  return seg;
}

// Pixel measures and, with a frame of reference, plane orientation (shared) and position.
void add_geometry(DcmSegmentation& seg, const Source& src, const std::string& name) {
  if (!src.pixel_spacing.empty()) {
    FGPixelMeasures measures;
    check(measures.setPixelSpacing(src.pixel_spacing.c_str()), name, "copy the pixel spacing");
    if (!src.slice_thickness.empty()) measures.setSliceThickness(src.slice_thickness.c_str());
    check(seg.addForAllFrames(measures), name, "add pixel measures");
  }
  if (src.frame_of_reference.empty() || src.orientation.size() != 6 || src.position.size() != 3) return;
  FGPlaneOrientationPatient orientation;
  const auto& o = src.orientation;
  check(orientation.setImageOrientationPatient(o[0].c_str(), o[1].c_str(), o[2].c_str(), o[3].c_str(), o[4].c_str(),
                                               o[5].c_str()),
        name, "copy the image orientation");
  check(seg.addForAllFrames(orientation), name, "add the plane orientation");
  FGPlanePosPatient position;
  check(position.setImagePositionPatient(src.position[0].c_str(), src.position[1].c_str(), src.position[2].c_str()),
        name, "copy the image position");
  check(seg.addForAllFrames(position), name, "add the plane position");
}

void add_frame(DcmSegmentation& seg, const Source& src, int frame, const std::vector<uint8_t>& mask,
               const std::string& name) {
  FGFrameContent content;
  check(content.setDimensionIndexValues(1, 0), name, "index the frame");
  FGSegmentation which;
  check(which.setReferencedSegmentNumber(1), name, "reference the segment");
  ImageSOPInstanceReferenceMacro* ref = nullptr;
  check(ImageSOPInstanceReferenceMacro::create(src.sop_class.c_str(), src.sop_instance.c_str(), ref), name,
        "reference the source image");
  std::unique_ptr<ImageSOPInstanceReferenceMacro> owned(ref);
  // (DCMTK 3.6.7's create() with frame numbers refuses non-SEG classes, so the frame is added here.)
  if (src.frame_references)
    check(owned->addReferencedFrameNumber(static_cast<Uint16>(frame + 1)), name, "reference the source frame");
  std::unique_ptr<FGDerivationImage> derivation(DcmSegmentation::createDerivationImageFG(
      OFVector<ImageSOPInstanceReferenceMacro>(1, *owned), "medai U-Net segmentation of the referenced image"));
  if (!derivation) fail_dicom(name, "cannot describe the derivation from the source image");
  OFVector<FGBase*> per_frame;
  per_frame.push_back(&content);
  per_frame.push_back(&which);
  per_frame.push_back(derivation.get());
  std::vector<Uint8> pixels(mask.begin(), mask.end());
  check(seg.addFrame(pixels.data(), 1, per_frame), name, "add the mask frame");
  IODMultiframeDimensionModule& dims = seg.getDimensions();
  char uid[100];
  dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
  check(dims.addDimensionIndex(DCM_ReferencedSegmentNumber, uid, DCM_SegmentIdentificationSequence,
                               "ReferencedSegmentNumber"),
        name, "describe the frame dimension");
}

void add_common_reference(DcmSegmentation& seg, const Source& src, int frame, const std::string& name) {
  IODReferences refs;
  if (src.frame_references)
    refs.add(new IODImageReference(src.patient_id.c_str(), src.study.c_str(), src.series.c_str(),
                                   src.sop_instance.c_str(), src.sop_class.c_str(),
                                   OFVector<Uint32>(1, static_cast<Uint32>(frame + 1))));
  else
    refs.add(new IODImageReference(src.patient_id.c_str(), src.study.c_str(), src.series.c_str(),
                                   src.sop_instance.c_str(), src.sop_class.c_str()));
  if (seg.getCommonInstanceReference().addReferences(refs, src.study.c_str()) != 1)
    fail_dicom(name, "cannot reference the source series");
}

}  // namespace

std::string make_dicom_seg(const std::string& source_bytes, const std::string& name, int frame,
                           const std::vector<uint8_t>& mask, int width, int height, const SegmentDescription& d) {
  DcmFileFormat source;
  parse_dicom(source_bytes, name, source);
  DcmDataset* ds = source.getDataset();
  const Source src = read_source(ds, name);
  if (src.rows != height || src.cols != width)
    fail_invalid(name + ": the mask is " + std::to_string(width) + "x" + std::to_string(height) + ", the image is " +
                 std::to_string(src.cols) + "x" + std::to_string(src.rows));
  if (mask.size() != static_cast<size_t>(width) * height) fail_invalid(name + ": mask size does not match");
  if (frame < 0 || frame >= src.frames)
    fail_invalid(name + ": frame " + std::to_string(frame) + " is not in the image's " + std::to_string(src.frames));
  if (d.label.empty() || d.label.size() > 64) fail_invalid("segment label must have 1..64 characters");
  auto seg = create_seg(src, ds, d, name);
  add_geometry(*seg, src, name);
  add_frame(*seg, src, frame, mask, name);
  add_common_reference(*seg, src, frame, name);
  DcmFileFormat out;
  check(seg->writeDataset(*out.getDataset()), name, "write the segmentation");
  return serialize_dicom(out, name);
}

void write_dicom_seg(const std::filesystem::path& source, int frame, const std::vector<uint8_t>& mask, int width,
                     int height, const SegmentDescription& d, const std::filesystem::path& out) {
  const std::string bytes = core::read_file(source);
  core::write_file_atomic(out, make_dicom_seg(bytes, source.string(), frame, mask, width, height, d));
}

namespace {

// The source instance and frame a SEG frame was derived from (empty when not recorded).
void frame_source(DcmSegmentation& seg, size_t f, DicomSegFrame& out) {
  auto* fg = dynamic_cast<FGDerivationImage*>(
      seg.getFunctionalGroups().get(static_cast<Uint32>(f), DcmFGTypes::EFG_DERIVATIONIMAGE));
  if (!fg || fg->getDerivationImageItems().empty()) return;
  auto& sources = fg->getDerivationImageItems().front()->getSourceImageItems();
  if (sources.empty()) return;
  ImageSOPInstanceReferenceMacro& ref = sources.front()->getImageSOPInstanceReference();
  OFString uid;
  if (ref.getReferencedSOPInstanceUID(uid).good()) out.source_sop_instance_uid = uid.c_str();
  OFVector<Uint16> frames;
  if (ref.getReferencedFrameNumber(frames).good() && !frames.empty()) out.source_frame = frames.front();
}

}  // namespace

DicomSeg decode_dicom_seg(const std::string& bytes, const std::string& name) {
  DcmFileFormat ff;
  parse_dicom(bytes, name, ff);
  DcmDataset* ds = ff.getDataset();
  if (text(ds, DCM_SOPClassUID) != UID_SegmentationStorage) fail_dicom(name, "not a DICOM Segmentation object");
  DcmSegmentation* raw = nullptr;
  check(DcmSegmentation::loadDataset(*ds, raw), name, "read the segmentation");
  std::unique_ptr<DcmSegmentation> seg(raw);
  if (seg->getSegmentationType() != DcmSegTypes::ST_BINARY) fail_dicom(name, "only binary segmentations are read");
  DicomSeg out;
  Uint16 rows = 0, cols = 0;
  ds->findAndGetUint16(DCM_Rows, rows);
  ds->findAndGetUint16(DCM_Columns, cols);
  out.width = cols;
  out.height = rows;
  out.study_instance_uid = text(ds, DCM_StudyInstanceUID);
  out.series_instance_uid = text(ds, DCM_SeriesInstanceUID);
  out.sop_instance_uid = text(ds, DCM_SOPInstanceUID);
  out.frame_of_reference_uid = text(ds, DCM_FrameOfReferenceUID);
  for (size_t s = 1; s <= seg->getNumberOfSegments(); ++s) {
    DcmSegment* segment = seg->getSegment(s);
    OFString label, algorithm;
    if (segment) segment->getSegmentLabel(label), segment->getSegmentAlgorithmName(algorithm);
    out.segments.push_back(label.c_str());
    out.segment_algorithms.push_back(algorithm.c_str());
  }
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t f = 0; f < seg->getNumberOfFrames(); ++f) {
    const DcmIODTypes::Frame* packed = seg->getFrame(f);
    if (!packed || packed->length < DcmSegUtils::getBytesForBinaryFrame(n))
      fail_dicom(name, "frame " + std::to_string(f + 1) + " is missing or short");
    std::unique_ptr<DcmIODTypes::Frame> unpacked(DcmSegUtils::unpackBinaryFrame(packed, rows, cols));
    if (!unpacked || unpacked->length < n) fail_dicom(name, "frame " + std::to_string(f + 1) + " cannot be unpacked");
    DicomSegFrame fr;
    fr.mask.resize(n);
    for (size_t i = 0; i < n; ++i) fr.mask[i] = unpacked->pixData[i] ? 1 : 0;
    auto* which = dynamic_cast<FGSegmentation*>(
        seg->getFunctionalGroups().get(static_cast<Uint32>(f), DcmFGTypes::EFG_SEGMENTATION));
    Uint16 number = 0;
    if (which && which->getReferencedSegmentNumber(number).good()) fr.segment_number = number;
    frame_source(*seg, f, fr);
    out.frames.push_back(std::move(fr));
  }
  return out;
}

DicomSeg read_dicom_seg(const std::filesystem::path& path) {
  return decode_dicom_seg(core::read_file(path), path.string());
}

}  // namespace medai::io
