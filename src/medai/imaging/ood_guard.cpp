#include "medai/imaging/ood_guard.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "medai/core/error.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"

namespace medai::imaging {

using nlohmann::json;

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "/") + x;
  return s;
}

bool listed(const std::vector<std::string>& allowed, const std::string& value) {
  for (const auto& a : allowed)
    if (io::lower_case(a) == io::lower_case(value)) return true;
  return false;
}

std::vector<std::string> strings(const json& j, const std::string& key, const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) fail_invalid(where + ": '" + key + "' must be a list of strings");
  for (const auto& s : j[key]) {
    if (!s.is_string()) fail_invalid(where + ": '" + key + "' must be a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string fmt(double v, const char* f = "%.1f") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// Flat or colour content in the frame a prediction reads.
std::optional<std::string> content_problem(const io::Image& im) {
  const int f = im.frames / 2;
  const size_t n = static_cast<size_t>(im.width) * im.height;
  if (n == 0 || im.pixels.size() < im.frame_size() * (f + 1)) return "the image has no pixels";
  const float* p = im.frame_data(f);
  double lo = p[0], hi = p[0], sum = 0, sq = 0, chroma = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* px = p + i * im.channels;
    double g = 0;
    for (int c = 0; c < im.channels; ++c) {
      lo = std::min<double>(lo, px[c]);
      hi = std::max<double>(hi, px[c]);
      g += px[c];
    }
    g /= im.channels;
    sum += g;
    sq += g * g;
    if (im.channels >= 3) chroma += std::max({std::abs(px[0] - g), std::abs(px[1] - g), std::abs(px[2] - g)});
  }
  if (!(hi > lo)) return "the image is blank (every pixel has the same value)";
  const double range = hi - lo, mean = sum / n, sd = std::sqrt(std::max(0.0, sq / n - mean * mean));
  if (sd / range < 0.01) return "the image is almost blank (no contrast)";
  if (im.channels >= 3 && chroma / n / range > 0.02)
    return "a colour image: the model reads grey radiographs (mean colour deviation " + fmt(100 * chroma / n / range) +
           "% of the range)";
  return std::nullopt;
}

}  // namespace

json Expected::to_json() const {
  json j = {{"modalities", modalities}, {"body_parts", body_parts}, {"views", views}};
  j["age_years"] = {min_age_years ? json(*min_age_years) : json(nullptr),
                    max_age_years ? json(*max_age_years) : json(nullptr)};
  return j;
}

Expected Expected::from_json(const json& j, const std::string& where) {
  Expected e;
  if (!j.is_object()) fail_invalid(where + ": 'expected' must be an object");
  e.modalities = strings(j, "modalities", where);
  e.body_parts = strings(j, "body_parts", where);
  e.views = strings(j, "views", where);
  if (j.contains("age_years")) {
    const json& a = j["age_years"];
    if (!a.is_array() || a.size() != 2) fail_invalid(where + ": 'age_years' must be [min, max] (null = open)");
    for (int k = 0; k < 2; ++k) {
      if (a[k].is_null()) continue;
      if (!a[k].is_number() || !std::isfinite(a[k].get<double>()))
        fail_invalid(where + ": 'age_years' must hold numbers or null");
      (k == 0 ? e.min_age_years : e.max_age_years) = a[k].get<double>();
    }
  }
  return e;
}

std::optional<std::string> check_input(const io::Image& image, const Expected& e) {
  if (auto p = content_problem(image)) return p;
  if (image.format != "dicom") return std::nullopt;
  auto meta = [&](const char* k) {
    auto it = image.meta.find(k);
    return it == image.meta.end() ? std::string() : it->second;
  };
  const std::string modality = meta("modality"), body = meta("body_part"), view = meta("view_position");
  if (!e.modalities.empty() && !modality.empty() && !listed(e.modalities, modality))
    return "DICOM modality " + modality + "; the model was trained on " + joined(e.modalities);
  if (!e.body_parts.empty() && !body.empty() && !listed(e.body_parts, body))
    return "DICOM body part " + body + "; the model was trained on " + joined(e.body_parts);
  if (!e.views.empty() && !view.empty() && !listed(e.views, view))
    return "DICOM view " + view + "; the model was trained on " + joined(e.views) + " views";
  const auto age = io::parse_number(meta("patient_age_years"));
  if (age && (e.min_age_years || e.max_age_years)) {
    const double years = *age;
    if ((e.min_age_years && years < *e.min_age_years) || (e.max_age_years && years > *e.max_age_years))
      return "patient age " + fmt(years, "%.0f") + " years is outside the training population (" +
             (e.min_age_years ? fmt(*e.min_age_years, "%g") : std::string("0")) + "-" +
             (e.max_age_years ? fmt(*e.max_age_years, "%g") : std::string("")) + " years)";
  }
  return std::nullopt;
}

GuardVerdict judge(const std::optional<std::string>& input_problem, std::optional<double> distance, double threshold) {
  GuardVerdict v;
  v.score = distance;
  if (input_problem) {
    v.in_distribution = false;
    v.reason = *input_problem;
  } else if (distance && *distance > threshold) {
    v.in_distribution = false;
    v.reason = "the image does not look like the training images (feature distance " + fmt(*distance, "%.1f") +
               " above the guard's threshold " + fmt(threshold, "%.1f") + ")";
  }
  return v;
}

}  // namespace medai::imaging
