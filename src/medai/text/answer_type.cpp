#include "medai/text/answer_type.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/binary_io.h"

namespace medai::text {

AnswerTypeModel AnswerTypeModel::fit(const std::vector<std::string>& questions, const std::vector<std::string>& answers,
                                     const std::vector<std::string>& types) {
  if (questions.size() != answers.size() || answers.size() != types.size())
    fail(ErrorCode::Internal, "AnswerTypeModel: lengths");
  AnswerTypeModel m;
  std::map<std::string, int> index;
  for (const auto& t : types) index.emplace(t, 0);
  if (index.size() < 2) fail_invalid("answer types: the training rows hold fewer than two types");
  for (auto& [name, i] : index) {
    i = static_cast<int>(m.types_.size());
    m.types_.push_back(name);
  }
  std::vector<int> y;
  for (const auto& t : types) y.push_back(index.at(t));
  const auto train = [&](const std::vector<std::string>& texts) {
    auto model = std::make_shared<Model>();
    TfidfOptions to;
    to.max_features = 50000;
    model->vectorizer = TfidfVectorizer(to);
    model->vectorizer.fit(texts);
    std::vector<SparseVector> x;
    x.reserve(texts.size());
    for (const auto& s : texts) x.push_back(model->vectorizer.transform(s));
    SoftmaxOptions so;
    so.balanced = false;  // the prior over types is part of what it should learn
    model->regression.fit(x, y, static_cast<int>(m.types_.size()), model->vectorizer.dimension(), so);
    return model;
  };
  m.question_ = train(questions);
  m.answer_ = train(answers);
  return m;
}

std::vector<double> AnswerTypeModel::question_types(const std::string& q) const {
  return question_->regression.probabilities(question_->vectorizer.transform(q));
}

std::vector<double> AnswerTypeModel::answer_types(const std::string& a) const {
  return answer_->regression.probabilities(answer_->vectorizer.transform(a));
}

double log_type_agreement(const std::vector<double>& p, const std::vector<double>& q) {
  double s = 0;
  for (size_t t = 0; t < p.size() && t < q.size(); ++t) s += p[t] * q[t];
  return std::log(std::max(s, 1e-6));
}

namespace {
constexpr std::string_view kMagic = "MEDAI-ANSWER-TYPES-1";
}

void AnswerTypeModel::save(const std::filesystem::path& path) const {
  io::ByteWriter out;
  out.str(kMagic);
  out.u64(types_.size());
  for (const auto& t : types_) out.str(t);
  for (const auto* m : {question_.get(), answer_.get()}) {
    m->vectorizer.write(out);
    m->regression.write(out);
  }
  core::write_file_atomic(path, out.bytes());
}

AnswerTypeModel AnswerTypeModel::load(const std::filesystem::path& path) {
  const std::string bytes = core::read_file(path);
  io::ByteReader in(bytes, path.string());
  if (in.str() != kMagic) in.corrupt("not a medai answer-type model");
  AnswerTypeModel m;
  const uint64_t n = in.u64();
  if (n < 2 || n > 10000) in.corrupt(std::to_string(n) + " types");
  for (uint64_t i = 0; i < n; ++i) m.types_.push_back(in.str());
  for (auto* slot : {&m.question_, &m.answer_}) {
    auto model = std::make_shared<Model>();
    model->vectorizer = TfidfVectorizer::read(in);
    model->regression = SoftmaxRegression::read(in);
    if (model->regression.classes() != static_cast<int>(n)) in.corrupt("a model's classes differ from the types");
    if (model->regression.dimension() != model->vectorizer.dimension())
      in.corrupt("a model's features differ from its vocabulary");
    *slot = std::move(model);
  }
  if (!in.done()) in.corrupt("bytes after the last model");
  return m;
}

}  // namespace medai::text
