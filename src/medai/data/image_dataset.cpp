#include "medai/data/image_dataset.h"

#include <algorithm>
#include <map>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"

namespace medai::data {

namespace fs = std::filesystem;

namespace {
std::string stem_of(const fs::path& p) {
  std::string name = p.filename().string();
  if (io::lower_case(name).ends_with(".nii.gz")) return name.substr(0, name.size() - 7);
  return p.stem().string();
}

std::vector<fs::path> images_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_image_file(e.path())) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Applies a model's class list (order and names) to what the data holds.
void apply_class_order(ImageDataset& ds, const std::vector<std::string>& wanted, const std::string& where) {
  std::vector<int> remap(ds.class_names.size(), -1);
  for (size_t i = 0; i < ds.class_names.size(); ++i) {
    auto it = std::find(wanted.begin(), wanted.end(), ds.class_names[i]);
    if (it == wanted.end())
      fail_invalid(where + ": class '" + ds.class_names[i] + "' is not one of the model's classes");
    remap[i] = static_cast<int>(it - wanted.begin());
  }
  for (const auto& w : wanted)
    if (std::find(ds.class_names.begin(), ds.class_names.end(), w) == ds.class_names.end())
      fail_invalid(where + ": class '" + w + "' missing (the model's classes are required)");
  for (auto& s : ds.samples) s.label = remap[s.label];
  ds.class_names = wanted;
}

ImageDataset from_csv(const fs::path& csv_path, const DatasetOptions& opt) {
  io::CsvTable t = io::read_csv(csv_path);
  size_t pc = t.column("path"), lc = t.column("label");
  auto idc = t.find_column("patient_id");
  auto sc = t.find_column("split");
  if (!opt.split.empty() && !sc) fail_invalid(csv_path.string() + ": --split given but the CSV has no 'split' column");
  ImageDataset ds;
  ds.source = csv_path;
  std::map<std::string, int> labels;
  std::vector<std::pair<ImageSample, std::string>> rows;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    if (!opt.split.empty() && row[*sc] != opt.split) continue;
    if (row[pc].empty() || row[lc].empty())
      fail_invalid(csv_path.string() + ": line " + std::to_string(r + 2) + ": empty path or label");
    ImageSample s;
    s.path = fs::path(row[pc]).is_absolute() ? fs::path(row[pc]) : csv_path.parent_path() / row[pc];
    s.patient_id = idc && !row[*idc].empty() ? row[*idc] : patient_id_from_filename(stem_of(s.path));
    for (size_t c = 0; c < t.header.size() && c < row.size(); ++c)
      if (c != pc && c != lc && (!idc || c != *idc) && (!sc || c != *sc)) s.columns[t.header[c]] = row[c];
    labels[row[lc]] = 0;
    rows.emplace_back(std::move(s), row[lc]);
  }
  int k = 0;
  for (auto& [name, id] : labels) {
    id = k++;
    ds.class_names.push_back(name);
  }
  for (auto& [s, name] : rows) {
    s.label = labels[name];
    ds.samples.push_back(std::move(s));
  }
  return ds;
}

// DIR itself when it has class folders; DIR/<only sub-folder> when DIR holds just one split
// folder (e.g. DIR/test/<CLASS>/...).
fs::path single_split_folder(const fs::path& dir) {
  std::vector<fs::path> subs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    if (!images_in(e.path()).empty()) return dir;
    subs.push_back(e.path());
  }
  if (subs.size() == 1) {
    for (const auto& e : fs::directory_iterator(subs[0]))
      if (e.is_directory() && !images_in(e.path()).empty()) return subs[0];
  }
  return dir;
}

ImageDataset from_folders(const fs::path& dir) {
  ImageDataset ds;
  ds.source = dir;
  std::vector<fs::path> class_dirs, split_dirs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory()) continue;
    if (!images_in(e.path()).empty()) class_dirs.push_back(e.path());
    else split_dirs.push_back(e.path());
  }
  std::sort(class_dirs.begin(), class_dirs.end());
  if (class_dirs.empty()) {
    std::string hint;
    for (const auto& s : split_dirs) hint += " " + s.filename().string() + "/";
    fail_invalid(dir.string() + ": no images found (expected " + dir.string() +
                 "/<CLASS>/*.png|jpg|dcm|nii or an index.csv)" +
                 (hint.empty() ? "" : "; sub-folders without images:" + hint));
  }
  for (const auto& cd : class_dirs) {
    int label = static_cast<int>(ds.class_names.size());
    ds.class_names.push_back(cd.filename().string());
    for (const auto& p : images_in(cd)) ds.samples.push_back({p, label, patient_id_from_filename(stem_of(p))});
  }
  return ds;
}
}  // namespace

bool is_image_file(const fs::path& p) {
  std::string n = io::lower_case(p.filename().string());
  for (const char* ext : {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".nii", ".nii.gz"})
    if (n.ends_with(ext)) return true;
  return false;
}

// Hand-written rather than std::regex: libstdc++'s regex recurses per character and overflowed
// the stack on a long file name (found by fuzzing the CSV index).
std::string patient_id_from_filename(const std::string& stem) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (stem.rfind("person", 0) == 0) {  // person<digits>_...
    size_t i = 6;
    while (i < stem.size() && digit(stem[i])) ++i;
    if (i > 6 && i < stem.size() && stem[i] == '_') return stem.substr(0, i);
  }
  const size_t dash = stem.rfind('-');  // <prefix>-<digits>
  if (dash != std::string::npos && dash > 0 && dash + 1 < stem.size() &&
      std::all_of(stem.begin() + static_cast<long>(dash) + 1, stem.end(), digit))
    return stem.substr(0, dash);
  return stem;
}

ImageDataset load_image_dataset(const fs::path& src, const DatasetOptions& opt) {
  if (!fs::exists(src)) fail_not_found(src.string() + ": data path does not exist");
  ImageDataset ds;
  if (fs::is_regular_file(src)) {
    if (io::lower_case(src.extension().string()) != ".csv")
      fail_invalid(src.string() + ": expected a folder or a .csv index");
    ds = from_csv(src, opt);
  } else if (fs::exists(src / "index.csv")) {
    ds = from_csv(src / "index.csv", opt);
  } else if (!opt.split.empty() && fs::is_directory(src / opt.split)) {
    ds = from_folders(src / opt.split);  // DIR/<split>/<CLASS>/...
  } else {
    ds = from_folders(single_split_folder(src));
  }
  if (ds.samples.empty()) fail_invalid(src.string() + ": no images found");
  if (opt.classes) {
    apply_class_order(ds, *opt.classes, src.string());
  } else if (ds.class_names.size() < 2 && !opt.allow_one_class) {
    fail_invalid(src.string() + ": found only class '" + ds.class_names[0] +
                 "'; training needs at least two classes (is a class folder missing?)");
  }
  return ds;
}

std::vector<int64_t> ImageDataset::class_counts() const {
  std::vector<int64_t> c(class_names.size(), 0);
  for (const auto& s : samples) c[s.label]++;
  return c;
}

std::string ImageDataset::fingerprint() const {
  core::Sha256 h;
  fs::path base = fs::is_directory(source) ? source : source.parent_path();
  for (const auto& s : samples) {
    std::error_code ec;
    auto size = fs::file_size(s.path, ec);
    h.update(fs::relative(s.path, base, ec).string() + "|" + class_names[s.label] + "|" +
             std::to_string(ec ? 0 : size) + "\n");
  }
  return h.hex_digest();
}

}  // namespace medai::data
