#include "medai/data/seg_dataset.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/data/image_dataset.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"

namespace medai::data {

namespace fs = std::filesystem;

namespace {

SegDataset from_index(const fs::path& dir, const fs::path& csv) {
  const io::CsvTable t = io::read_csv(csv);
  const size_t ci = t.column("path"), cm = t.column("mask_path");
  const auto cp = t.find_column("patient_id");
  SegDataset ds;
  ds.source = dir;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string where = csv.string() + " line " + std::to_string(r + 2);
    if (row[ci].empty()) fail_invalid(where + ": field 'path' is empty");
    SegSample s;
    s.image = dir / row[ci];
    if (!row[cm].empty()) s.mask = dir / row[cm];
    if (!fs::exists(s.image)) fail_not_found(where + ": image " + s.image.string() + " does not exist");
    if (!s.mask.empty() && !fs::exists(s.mask)) fail_not_found(where + ": mask " + s.mask.string() + " does not exist");
    if (cp) s.group_id = row[*cp];
    for (size_t c = 0; c < t.header.size(); ++c)
      if (c != ci && c != cm) s.columns[t.header[c]] = row[c];
    ds.samples.push_back(std::move(s));
  }
  return ds;
}

SegDataset from_folders(const fs::path& dir) {
  const fs::path images = dir / "images", masks = dir / "masks";
  if (!fs::is_directory(images) || !fs::is_directory(masks))
    fail_not_found(dir.string() + ": needs index.csv (path,mask_path[,patient_id]) or images/ and masks/ folders");
  SegDataset ds;
  ds.source = dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(images))
    if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    SegSample s;
    s.image = f;
    s.mask = masks / f.filename();
    if (!fs::exists(s.mask)) fail_not_found(f.string() + ": no mask of the same name in " + masks.string());
    ds.samples.push_back(std::move(s));
  }
  return ds;
}

}  // namespace

SegDataset load_seg_dataset(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail_not_found(dir.string() + ": not a folder");
  SegDataset ds = fs::exists(dir / "index.csv") ? from_index(dir, dir / "index.csv") : from_folders(dir);
  if (ds.samples.empty()) fail_invalid(dir.string() + ": no images");
  return ds;
}

std::string SegDataset::fingerprint() const {
  core::Sha256 h;
  for (const auto& s : samples) {
    std::error_code ec;
    h.update(fs::relative(s.image, source, ec).string() + "|" + fs::relative(s.mask, source, ec).string() + "|" +
             std::to_string(fs::file_size(s.image, ec)) + "\n");
  }
  return h.hex_digest();
}

std::vector<uint8_t> SegImage::grey() const {
  const size_t n = static_cast<size_t>(width) * height;
  std::vector<uint8_t> g(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = (pixels[i] + pixels[n + i] + pixels[2 * n + i]) / 3.0f;
    g[i] = static_cast<uint8_t>(std::clamp(v * 255.0f + 0.5f, 0.0f, 255.0f));
  }
  return g;
}

SegImage to_seg_image(const io::Image& im) {
  SegImage r;
  r.width = im.width;
  r.height = im.height;
  r.frame = im.frames / 2;
  const size_t n = static_cast<size_t>(im.width) * im.height;
  const float* f = im.frame_data(r.frame);
  r.pixels.resize(kSegChannels * n);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < kSegChannels; ++c) r.pixels[c * n + i] = f[i * im.channels + (im.channels >= 3 ? c : 0)];
  const auto [lo, hi] = std::minmax_element(r.pixels.begin(), r.pixels.end());
  const float a = *lo, span = *hi - *lo;
  for (auto& v : r.pixels) v = span > 0 ? (v - a) / span : 0.0f;
  return r;
}

SegImage read_seg_image(const fs::path& image_path, const fs::path& mask_path) {
  const io::Image im = io::read_image(image_path);
  SegImage r = to_seg_image(im);
  if (mask_path.empty()) return r;
  const size_t n = static_cast<size_t>(im.width) * im.height;
  const io::Image m = io::read_image(mask_path);
  if (m.width != im.width || m.height != im.height)
    fail_invalid(mask_path.string() + ": mask is " + std::to_string(m.width) + "x" + std::to_string(m.height) +
                 ", its image " + image_path.string() + " is " + std::to_string(im.width) + "x" +
                 std::to_string(im.height));
  r.mask.resize(n);
  const float* mf = m.frame_data(m.frames / 2);
  for (size_t i = 0; i < n; ++i) r.mask[i] = mf[i * m.channels] > 0 ? 1 : 0;
  return r;
}

SegSplit split_seg_dataset(const SegDataset& ds, double fraction, uint64_t seed, const std::string& stratify) {
  if (!(fraction > 0 && fraction < 1)) fail_invalid("validation fraction must be between 0 and 1");
  // Units: whole groups (or single rows), each with its stratum (of its first row).
  std::map<std::string, std::vector<size_t>> groups;
  std::vector<std::vector<size_t>> units;
  for (size_t i = 0; i < ds.samples.size(); ++i) {
    const auto& g = ds.samples[i].group_id;
    if (g.empty()) units.push_back({i});
    else groups[g].push_back(i);
  }
  for (auto& [g, rows] : groups) units.push_back(rows);
  std::map<std::string, std::vector<size_t>> strata;  // stratum -> unit indices
  for (size_t u = 0; u < units.size(); ++u) {
    const auto& cols = ds.samples[units[u].front()].columns;
    auto it = cols.find(stratify);
    strata[it == cols.end() ? std::string() : it->second].push_back(u);
  }
  std::mt19937_64 rng(seed);
  SegSplit split;
  for (auto& [name, us] : strata) {
    std::shuffle(us.begin(), us.end(), rng);
    const size_t n_val = us.size() > 1 ? std::max<size_t>(1, static_cast<size_t>(us.size() * fraction + 0.5)) : 0;
    for (size_t k = 0; k < us.size(); ++k)
      for (size_t row : units[us[k]]) (k < n_val ? split.validation : split.train).push_back(row);
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  if (split.train.empty() || split.validation.empty())
    fail_invalid(ds.source.string() + ": too few images (or groups) for a training and a validation part");
  return split;
}

}  // namespace medai::data
