#include "medai/text/subword_tokenizer.h"

#include "medai/core/error.h"

namespace medai::text {

Encoding SubwordTokenizer::encode(std::string_view a, size_t max_length, bool pad, std::string_view b) const {
  const bool pair = !b.empty();
  if (max_length < (pair ? 3u : 2u)) fail_invalid("encode: max_length " + std::to_string(max_length) + " is too short");
  auto ta = token_ids(a), tb = pair ? token_ids(b) : std::vector<int64_t>{};
  const size_t room = max_length - (pair ? 3 : 2);
  while (ta.size() + tb.size() > room) (ta.size() >= tb.size() ? ta : tb).pop_back();
  Encoding e;
  const auto push = [&](int64_t id, int64_t type) {
    e.ids.push_back(id);
    e.attention_mask.push_back(1);
    e.token_type_ids.push_back(type);
  };
  push(cls_, 0);
  for (const auto t : ta) push(t, 0);
  push(sep_, 0);
  if (pair) {
    for (const auto t : tb) push(t, 1);
    push(sep_, 1);
  }
  while (pad && e.ids.size() < max_length) {
    e.ids.push_back(pad_);
    e.attention_mask.push_back(0);
    e.token_type_ids.push_back(0);
  }
  return e;
}

}  // namespace medai::text
