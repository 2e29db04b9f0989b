#include "medai/metrics/rouge.h"

#include <algorithm>
#include <map>

namespace medai::metrics {

std::vector<std::string> rouge_tokens(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      cur.push_back(l);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

namespace {

double f1(size_t overlap, size_t predicted, size_t reference) {
  if (overlap == 0 || predicted == 0 || reference == 0) return 0.0;
  const double p = static_cast<double>(overlap) / static_cast<double>(predicted);
  const double r = static_cast<double>(overlap) / static_cast<double>(reference);
  return 2 * p * r / (p + r);
}

double rouge_n(const std::vector<std::string>& a, const std::vector<std::string>& b, size_t n) {
  const auto grams = [n](const std::vector<std::string>& t) {
    std::map<std::vector<std::string>, size_t> g;
    for (size_t i = 0; i + n <= t.size(); ++i) ++g[std::vector<std::string>(t.begin() + i, t.begin() + i + n)];
    return g;
  };
  const auto ga = grams(a), gb = grams(b);
  size_t overlap = 0, na = 0, nb = 0;
  for (const auto& [k, c] : ga) {
    na += c;
    if (auto f = gb.find(k); f != gb.end()) overlap += std::min(c, f->second);
  }
  for (const auto& [k, c] : gb) nb += c;
  return f1(overlap, na, nb);
}

size_t lcs(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<size_t> prev(b.size() + 1, 0), cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

RougeScores rouge(std::string_view prediction, std::string_view reference) {
  const auto p = rouge_tokens(prediction), r = rouge_tokens(reference);
  RougeScores s;
  s.rouge1 = rouge_n(p, r, 1);
  s.rouge2 = rouge_n(p, r, 2);
  s.rougeL = f1(lcs(p, r), p.size(), r.size());
  return s;
}

}  // namespace medai::metrics
