#include "medai/icu/features.h"

#include <cmath>
#include <limits>

namespace medai::icu {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const char* const kSummaries[] = {"n", "first", "last", "min", "max", "mean", "std", "mean_last12h"};
constexpr int kPerSeries = 8;
constexpr float kLast12hFrom = 36 * 60;

}  // namespace

const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n{"Age", "Gender", "Height", "ICUType_1", "ICUType_2", "ICUType_3", "ICUType_4"};
    for (const auto& s : series_names())
      for (const char* k : kSummaries) n.push_back(s + "_" + k);
    n.push_back("Urine_total");
    return n;
  }();
  return names;
}

std::string feature_variable(const std::string& feature) {
  for (const char* k : kSummaries) {
    const std::string suffix = std::string("_") + k;
    if (feature.size() > suffix.size() && feature.compare(feature.size() - suffix.size(), suffix.size(), suffix) == 0)
      return feature.substr(0, feature.size() - suffix.size());
  }
  if (feature == "Urine_total") return "Urine";
  if (feature.rfind("ICUType_", 0) == 0) return "ICUType";
  return feature;
}

std::vector<float> stay_features(const Stay& stay) {
  const size_t k = series_names().size();
  std::vector<float> f;
  f.reserve(feature_names().size());
  f.push_back(stay.age);
  f.push_back(stay.gender);
  f.push_back(stay.height);
  for (int t = 1; t <= 4; ++t) f.push_back(std::isnan(stay.icu_type) ? kNaN : static_cast<float>(stay.icu_type == t));
  struct Acc {
    int n = 0, n12 = 0;
    double first = 0, last = 0, min = 0, max = 0, sum = 0, sum2 = 0, sum12 = 0;
  };
  std::vector<Acc> acc(k);
  for (const auto& o : stay.observations) {
    Acc& a = acc[o.variable];
    const double v = o.value;
    if (a.n == 0) a.first = a.min = a.max = v;
    a.last = v;
    a.min = std::min(a.min, v);
    a.max = std::max(a.max, v);
    a.sum += v;
    a.sum2 += v * v;
    ++a.n;
    if (o.minutes >= kLast12hFrom) a.sum12 += v, ++a.n12;
  }
  for (size_t v = 0; v < k; ++v) {
    const Acc& a = acc[v];
    f.push_back(static_cast<float>(a.n));
    if (a.n == 0) {
      for (int i = 1; i < kPerSeries; ++i) f.push_back(kNaN);
      continue;
    }
    const double mean = a.sum / a.n;
    f.push_back(static_cast<float>(a.first));
    f.push_back(static_cast<float>(a.last));
    f.push_back(static_cast<float>(a.min));
    f.push_back(static_cast<float>(a.max));
    f.push_back(static_cast<float>(mean));
    f.push_back(a.n > 1 ? static_cast<float>(std::sqrt(std::max(0.0, (a.sum2 - a.n * mean * mean) / (a.n - 1))))
                        : kNaN);
    f.push_back(a.n12 > 0 ? static_cast<float>(a.sum12 / a.n12) : kNaN);
  }
  static const int urine = [] {
    for (size_t i = 0; i < series_names().size(); ++i)
      if (series_names()[i] == "Urine") return static_cast<int>(i);
    return -1;
  }();
  f.push_back(acc[urine].n ? static_cast<float>(acc[urine].sum) : kNaN);
  return f;
}

std::vector<float> feature_matrix(const std::vector<Stay>& stays) {
  std::vector<float> x;
  x.reserve(stays.size() * feature_names().size());
  for (const auto& s : stays) {
    const auto f = stay_features(s);
    x.insert(x.end(), f.begin(), f.end());
  }
  return x;
}

}  // namespace medai::icu
