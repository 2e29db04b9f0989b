#pragma once
// Text classification data and cross-validation: labelled texts from a CSV, and pooled
// out-of-fold evaluation of a classifier over a row,fold file.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "medai/data/row_splits.h"
#include "medai/io/csv.h"
#include "medai/metrics/multiclass.h"
#include "medai/text/softmax_regression.h"

namespace medai::text {

struct LabelledTexts {
  std::vector<std::string> texts;
  std::vector<int> labels;           // indices into `classes`
  std::vector<std::string> classes;  // distinct label values, sorted
};

// The used rows (all, or those `splits` lists) of two columns. Fails naming the file, row and
// column on a missing column, empty or non-UTF-8 text, an empty label, or fewer than two classes.
LabelledTexts read_labelled_texts(const io::CsvTable& table, const std::string& text_column,
                                  const std::string& label_column, const data::RowSplits* splits);

// Fits on the training rows' texts and labels, returns a predictor of label indices.
using TextClassifierFactory = std::function<std::function<int(const std::string&)>(
    const std::vector<std::string>&, const std::vector<int>&, int classes)>;

// The TF-IDF (1-2 grams, sublinear tf, min_df 2) + balanced multinomial logistic regression baseline.
TextClassifierFactory tfidf_logistic_factory(const TfidfOptions& tfidf = {}, const SoftmaxOptions& softmax = {});

struct CvReport {
  metrics::MulticlassMetrics pooled;
  double macro_f1_lower = 0, macro_f1_upper = 0, accuracy_lower = 0, accuracy_upper = 0;  // bootstrap 95 %
  std::vector<double> fold_macro_f1;
};

// Every fold in `folds` (a row,fold file over the same table) held out once; `all` indexes rows of
// the table (the texts of unused rows are empty and never read).
CvReport cross_validate(const LabelledTexts& all, const data::RowSplits& folds, const TextClassifierFactory& factory);

// {"macro_f1","accuracy","n","macro_f1_ci95","accuracy_ci95","folds","per_class":[...],"confusion":[[...]],"classes"}
nlohmann::json cv_json(const CvReport& report, const std::vector<std::string>& classes);

// The TF-IDF + logistic-regression classifier as `text train` saves it (one binary file).
class TfidfTextClassifier {
 public:
  static TfidfTextClassifier fit(const std::vector<std::string>& texts, const std::vector<int>& labels,
                                 std::vector<std::string> classes, const TfidfOptions& tfidf = {},
                                 const SoftmaxOptions& softmax = {});
  std::vector<double> probabilities(const std::string& text) const;
  int predict(const std::string& text) const;
  const std::vector<std::string>& classes() const { return classes_; }
  void save(const std::filesystem::path& path) const;
  static TfidfTextClassifier load(const std::filesystem::path& path);
  // Classes, vectorizer and weights inside a larger file; read checks that they agree.
  void write(io::ByteWriter& out) const;
  static TfidfTextClassifier read(io::ByteReader& in);

 private:
  std::vector<std::string> classes_;
  TfidfVectorizer vectorizer_;
  SoftmaxRegression regression_;
};

}  // namespace medai::text
