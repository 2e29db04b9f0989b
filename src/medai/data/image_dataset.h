#pragma once
// Labelled image collections: class folders (DIR/<CLASS>/*.png|jpg|dcm|nii[.gz], as the Kermany
// set) or a CSV index (path,label[,patient_id][,split]) with paths relative to the CSV.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace medai::data {

struct ImageSample {
  std::filesystem::path path;
  int label = 0;
  std::string patient_id;
  std::map<std::string, std::string> columns;  // a CSV index's other columns (e.g. subtype), for subgroups
};

struct ImageDataset {
  std::filesystem::path source;
  std::vector<std::string> class_names;  // label i -> name
  std::vector<ImageSample> samples;
  std::vector<int64_t> class_counts() const;
  // SHA-256 over (relative path, label, size) of every sample: identifies the data a model saw.
  std::string fingerprint() const;
};

struct DatasetOptions {
  // Rows of a CSV index whose 'split' column equals this (empty = all rows).
  std::string split;
  // When set, the dataset must use exactly these classes (a model's), in this order.
  std::optional<std::vector<std::string>> classes;
  // One class is an error (a class folder missing?) unless the caller models a single
  // distribution (an unconditional GAN).
  bool allow_one_class = false;
};

ImageDataset load_image_dataset(const std::filesystem::path& dir_or_csv, const DatasetOptions& options = {});

// Patient id from a file name, Kermany convention: person1000_bacteria_2931 -> person1000,
// IM-0115-0001 -> IM-0115, NORMAL2-IM-1427-0001 -> NORMAL2-IM-1427; else the stem.
std::string patient_id_from_filename(const std::string& stem);

bool is_image_file(const std::filesystem::path& p);

}  // namespace medai::data
