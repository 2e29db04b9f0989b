#pragma once
// ROUGE F1 (Lin 2004) as Google's rouge_score computes it without stemming: text lower-cased,
// every run of characters outside [a-z0-9] a separator; ROUGE-N on n-gram multisets, ROUGE-L on
// the longest common subsequence of the whole texts (rougeL, not rougeLsum).
#include <string>
#include <string_view>
#include <vector>

namespace medai::metrics {

std::vector<std::string> rouge_tokens(std::string_view text);

struct RougeScores {
  double rouge1 = 0, rouge2 = 0, rougeL = 0;  // F1
};
RougeScores rouge(std::string_view prediction, std::string_view reference);

}  // namespace medai::metrics
