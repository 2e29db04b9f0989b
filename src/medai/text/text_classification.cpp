#include "medai/text/text_classification.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/binary_io.h"
#include "medai/metrics/bootstrap.h"
#include "medai/text/text_util.h"

namespace medai::text {

LabelledTexts read_labelled_texts(const io::CsvTable& t, const std::string& text_column,
                                  const std::string& label_column, const data::RowSplits* splits) {
  const size_t tc = t.column(text_column), lc = t.column(label_column);
  LabelledTexts out;
  out.texts.resize(t.rows.size());
  std::vector<std::string> raw(t.rows.size());
  std::map<std::string, int> classes;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (splits && splits->assignment[r] == data::RowSplits::kUnused) continue;
    const std::string where = t.source.string() + " row " + std::to_string(r);
    check_text(t.rows[r][tc], where + ", column '" + text_column + "'");
    raw[r] = normalise_whitespace(t.rows[r][lc]);
    if (raw[r].empty()) fail_invalid(where + ", column '" + label_column + "': empty label");
    out.texts[r] = t.rows[r][tc];
    classes.emplace(raw[r], 0);
  }
  if (classes.size() < 2)
    fail_invalid(t.source.string() + ", column '" + label_column + "': the used rows hold " +
                 std::to_string(classes.size()) + " class(es); classification needs at least two");
  for (auto& [name, index] : classes) {
    index = static_cast<int>(out.classes.size());
    out.classes.push_back(name);
  }
  out.labels.assign(t.rows.size(), -1);
  for (size_t r = 0; r < t.rows.size(); ++r)
    if (!raw[r].empty()) out.labels[r] = classes.at(raw[r]);
  return out;
}

TextClassifierFactory tfidf_logistic_factory(const TfidfOptions& tfidf, const SoftmaxOptions& softmax) {
  return [tfidf, softmax](const std::vector<std::string>& texts, const std::vector<int>& labels, int classes) {
    auto model = std::make_shared<TfidfTextClassifier>(TfidfTextClassifier::fit(
        texts, labels, std::vector<std::string>(static_cast<size_t>(classes)), tfidf, softmax));
    return std::function<int(const std::string&)>([model](const std::string& s) { return model->predict(s); });
  };
}

CvReport cross_validate(const LabelledTexts& all, const data::RowSplits& folds, const TextClassifierFactory& factory) {
  if (!folds.folds) fail_invalid(folds.source.string() + ": cross-validation needs a row,fold file");
  const int k = folds.fold_count();
  const int classes = static_cast<int>(all.classes.size());
  std::vector<int> truth, predicted;
  CvReport report;
  for (int f = 0; f < k; ++f) {
    const auto test = folds.rows_with(f);
    if (test.empty()) continue;
    std::vector<std::string> texts;
    std::vector<int> labels;
    for (size_t r : folds.rows_without(f)) {
      texts.push_back(all.texts[r]);
      labels.push_back(all.labels[r]);
    }
    if (texts.empty()) fail_invalid(folds.source.string() + ": fold " + std::to_string(f) + " leaves no training rows");
    const auto predict = factory(texts, labels, classes);
    std::vector<int> ft, fp;
    for (size_t r : test) {
      ft.push_back(all.labels[r]);
      fp.push_back(predict(all.texts[r]));
    }
    report.fold_macro_f1.push_back(metrics::macro_f1(ft, fp, classes));
    truth.insert(truth.end(), ft.begin(), ft.end());
    predicted.insert(predicted.end(), fp.begin(), fp.end());
  }
  if (report.fold_macro_f1.size() < 2)
    fail_invalid(folds.source.string() + ": cross-validation needs at least two non-empty folds");
  report.pooled = metrics::multiclass_metrics(truth, predicted, classes);
  const auto pick = [&](const std::vector<size_t>& idx, bool f1) {
    std::vector<int> t, p;
    for (size_t i : idx) {
      t.push_back(truth[i]);
      p.push_back(predicted[i]);
    }
    const auto m = metrics::multiclass_metrics(t, p, classes);
    return f1 ? m.macro_f1 : m.accuracy;
  };
  const auto f1_ci = metrics::bootstrap_ci(
      truth.size(), [&](const auto& idx) { return pick(idx, true); }, 1000);
  const auto acc_ci = metrics::bootstrap_ci(
      truth.size(), [&](const auto& idx) { return pick(idx, false); }, 1000);
  report.macro_f1_lower = f1_ci.lower;
  report.macro_f1_upper = f1_ci.upper;
  report.accuracy_lower = acc_ci.lower;
  report.accuracy_upper = acc_ci.upper;
  return report;
}

nlohmann::json cv_json(const CvReport& r, const std::vector<std::string>& classes) {
  nlohmann::json per_class = nlohmann::json::array();
  for (size_t c = 0; c < r.pooled.per_class.size(); ++c) {
    const auto& s = r.pooled.per_class[c];
    per_class.push_back({{"class", classes[c]},
                         {"precision", s.precision},
                         {"recall", s.recall},
                         {"f1", s.f1},
                         {"support", s.support}});
  }
  return {{"macro_f1", r.pooled.macro_f1},
          {"accuracy", r.pooled.accuracy},
          {"n", r.pooled.n},
          {"macro_f1_ci95", {r.macro_f1_lower, r.macro_f1_upper}},
          {"accuracy_ci95", {r.accuracy_lower, r.accuracy_upper}},
          {"fold_macro_f1", r.fold_macro_f1},
          {"classes", classes},
          {"per_class", per_class},
          {"confusion", r.pooled.confusion}};
}

namespace {
constexpr const char* kClassifierMagic = "medai.text_classifier/1";
}

TfidfTextClassifier TfidfTextClassifier::fit(const std::vector<std::string>& texts, const std::vector<int>& labels,
                                             std::vector<std::string> classes, const TfidfOptions& tfidf,
                                             const SoftmaxOptions& softmax) {
  TfidfTextClassifier c;
  c.classes_ = std::move(classes);
  c.vectorizer_ = TfidfVectorizer(tfidf);
  c.vectorizer_.fit(texts);
  std::vector<SparseVector> x;
  x.reserve(texts.size());
  for (const auto& t : texts) x.push_back(c.vectorizer_.transform(t));
  c.regression_.fit(x, labels, static_cast<int>(c.classes_.size()), c.vectorizer_.dimension(), softmax);
  return c;
}

std::vector<double> TfidfTextClassifier::probabilities(const std::string& text) const {
  return regression_.probabilities(vectorizer_.transform(text));
}

int TfidfTextClassifier::predict(const std::string& text) const {
  return regression_.predict(vectorizer_.transform(text));
}

void TfidfTextClassifier::write(io::ByteWriter& out) const {
  out.u64(classes_.size());
  for (const auto& c : classes_) out.str(c);
  vectorizer_.write(out);
  regression_.write(out);
}

TfidfTextClassifier TfidfTextClassifier::read(io::ByteReader& in) {
  TfidfTextClassifier c;
  const uint64_t n = in.u64();
  if (n < 2 || n > 100000) in.corrupt("class count " + std::to_string(n));
  for (uint64_t i = 0; i < n; ++i) c.classes_.push_back(in.str());
  c.vectorizer_ = TfidfVectorizer::read(in);
  c.regression_ = SoftmaxRegression::read(in);
  if (c.regression_.classes() != static_cast<int>(n) || c.regression_.dimension() != c.vectorizer_.dimension())
    in.corrupt("the classifier does not match its classes or vocabulary");
  return c;
}

void TfidfTextClassifier::save(const std::filesystem::path& path) const {
  io::ByteWriter out;
  out.str(kClassifierMagic);
  write(out);
  core::write_file_atomic(path, out.bytes());
}

TfidfTextClassifier TfidfTextClassifier::load(const std::filesystem::path& path) {
  const std::string bytes = core::read_file(path);
  io::ByteReader in(bytes, path.string());
  if (in.str() != kClassifierMagic) in.corrupt("not a medai text classifier");
  auto c = read(in);
  if (!in.done()) in.corrupt("trailing bytes");
  return c;
}

}  // namespace medai::text
