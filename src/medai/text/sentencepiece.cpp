#include "medai/text/sentencepiece.h"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/text/text_util.h"

namespace medai::text {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPluginName = "libmedai_sentencepiece.so";
constexpr const char* kSpecials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

struct Plugin {
  int (*train)(const char*, char*, int) = nullptr;
  void* (*load)(const char*, char*, int) = nullptr;
  void (*free)(void*) = nullptr;
  int (*size)(void*) = nullptr;
  int (*piece)(void*, int, char*, int) = nullptr;
  int (*piece_id)(void*, const char*) = nullptr;
  int (*encode)(void*, const char*, int, int*, int) = nullptr;
  std::string error;  // why it did not load
};

std::vector<fs::path> plugin_candidates() {
  std::vector<fs::path> out;
  if (const char* env = std::getenv("MEDAI_SENTENCEPIECE_PLUGIN")) out.emplace_back(env);
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(exe.parent_path() / kPluginName);
#ifdef MEDAI_SENTENCEPIECE_PLUGIN_PATH
  out.emplace_back(MEDAI_SENTENCEPIECE_PLUGIN_PATH);
#endif
  return out;
}

const Plugin& plugin() {
  static Plugin p;
  static std::once_flag once;
  std::call_once(once, [] {
  // A link-map namespace of its own (dlmopen): the library's private protobuf never meets
  // libtorch's, and its C++ runtime is its own. (RTLD_DEEPBIND isolates protobuf too, but then
  // the plugin's std::cerr is not the executable's copy-relocated one and logging crashes.)
  // The sanitizers do not support dlmopen; their test processes hold no libtorch.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    const auto open = [](const char* path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); };
#else
    const auto open = [](const char* path) { return dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL); };
#endif
    void* lib = nullptr;
    std::string tried;
    for (const auto& c : plugin_candidates()) {
      if (!fs::exists(c)) {
        tried += (tried.empty() ? "" : ", ") + c.string();
        continue;
      }
      lib = open(c.c_str());
      if (lib) break;
      tried += (tried.empty() ? "" : ", ") + c.string() + " (" + dlerror() + ")";
    }
    if (!lib) {
      p.error = "the SentencePiece plugin " + std::string(kPluginName) + " was not found (tried " + tried +
                "; build it with libsentencepiece-dev installed, or set MEDAI_SENTENCEPIECE_PLUGIN)";
      return;
    }
    const auto sym = [&](const char* name) { return dlsym(lib, name); };
    p.train = reinterpret_cast<decltype(p.train)>(sym("medai_spm_train"));
    p.load = reinterpret_cast<decltype(p.load)>(sym("medai_spm_load"));
    p.free = reinterpret_cast<decltype(p.free)>(sym("medai_spm_free"));
    p.size = reinterpret_cast<decltype(p.size)>(sym("medai_spm_size"));
    p.piece = reinterpret_cast<decltype(p.piece)>(sym("medai_spm_piece"));
    p.piece_id = reinterpret_cast<decltype(p.piece_id)>(sym("medai_spm_piece_id"));
    p.encode = reinterpret_cast<decltype(p.encode)>(sym("medai_spm_encode"));
    if (!p.train || !p.load || !p.free || !p.size || !p.piece || !p.piece_id || !p.encode)
      p.error = std::string(kPluginName) + " lacks the medai_spm_* functions (a different version?)";
  });
  return p;
}

const Plugin& checked_plugin() {
  const Plugin& p = plugin();
  if (!p.error.empty()) fail_unsupported("SentencePiece: " + p.error);
  return p;
}

// Documents cut into sentence-sized lines (SentencePiece trains on lines of at most 4192 bytes):
// after ". ", "? " or "! ", and at the first space past 2000 bytes.
std::string training_lines(const std::vector<std::string>& texts) {
  std::string out;
  for (const auto& t : texts) {
    const std::string s = normalise_whitespace(t);
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const bool sentence_end = (s[i] == '.' || s[i] == '?' || s[i] == '!') && i + 1 < s.size() && s[i + 1] == ' ';
      const bool too_long = s[i] == ' ' && i - start >= 2000;
      if (!sentence_end && !too_long) continue;
      out.append(s, start, i + 1 - start);
      out += '\n';
      start = i + 1;
      while (start < s.size() && s[start] == ' ') ++start;
      i = start - 1;
    }
    if (start < s.size()) {
      out.append(s, start, std::string::npos);
      out += '\n';
    }
  }
  return out;
}

}  // namespace

bool SentencePieceTokenizer::available(std::string* why) {
  const Plugin& p = plugin();
  if (why) *why = p.error;
  return p.error.empty();
}

SentencePieceTokenizer SentencePieceTokenizer::train(const std::vector<std::string>& texts, const fs::path& dir,
                                                     const SentencePieceTrainOptions& o) {
  const Plugin& p = checked_plugin();
  if (o.model_type != "unigram" && o.model_type != "bpe")
    fail_invalid("SentencePiece model type '" + o.model_type + "': use unigram or bpe");
  if (o.vocab_size < 16) fail_invalid("SentencePiece vocabulary size must be at least 16");
  fs::create_directories(dir);
  const fs::path input = dir / "sentencepiece_input.txt", prefix = dir / "sentencepiece";
  core::write_file_atomic(input, training_lines(texts));
  const std::string flags =
      "--input=" + input.string() + " --model_prefix=" + prefix.string() +
      " --vocab_size=" + std::to_string(o.vocab_size) + " --model_type=" + o.model_type +
      " --character_coverage=0.9995 --pad_id=0 --unk_id=1 --bos_id=-1 --eos_id=-1"
      " --pad_piece=[PAD] --unk_piece=[UNK] --user_defined_symbols=[CLS],[SEP],[MASK] --hard_vocab_limit=false"
      " --normalization_rule_name=" +
      (o.lower_case ? "nmt_nfkc_cf" : "nmt_nfkc") +
      " --input_sentence_size=2000000 --shuffle_input_sentence=true --minloglevel=2"
      " --num_threads=" +
      std::to_string(std::max(1, o.threads));
  char error[1024] = {0};
  const int rc = p.train(flags.c_str(), error, sizeof error);
  std::error_code ec;
  fs::remove(input, ec);
  fs::remove(dir / "sentencepiece.vocab", ec);
  if (rc != 0) fail_invalid(std::string("SentencePiece training failed: ") + error);
  return load(dir / kModelFile);
}

SentencePieceTokenizer SentencePieceTokenizer::load(const fs::path& model_file) {
  const Plugin& p = checked_plugin();
  SentencePieceTokenizer t;
  t.source_ = model_file.string();
  t.model_bytes_ = core::read_file(model_file);
  char error[1024] = {0};
  void* h = p.load(model_file.c_str(), error, sizeof error);
  if (!h) fail_invalid(model_file.string() + ": not a SentencePiece model (" + error + ")");
  t.handle_ = std::shared_ptr<void>(h, p.free);
  const int n = p.size(h);
  char buffer[4096];
  for (int i = 0; i < n; ++i) {
    if (p.piece(h, i, buffer, sizeof buffer) < 0)
      fail_invalid(model_file.string() + ": piece " + std::to_string(i) + " is too long");
    t.pieces_.emplace_back(buffer);
  }
  int64_t* ids[] = {&t.pad_, &t.unk_, &t.cls_, &t.sep_, &t.mask_};
  for (size_t k = 0; k < std::size(kSpecials); ++k) {
    const int id = p.piece_id(h, kSpecials[k]);
    if (id < 0 || id >= n || t.pieces_[static_cast<size_t>(id)] != kSpecials[k])
      fail_invalid(model_file.string() + ": no special piece " + kSpecials[k] + " (train it with medai)");
    *ids[k] = id;
  }
  return t;
}

std::vector<int64_t> SentencePieceTokenizer::token_ids(std::string_view text) const {
  if (!is_valid_utf8(text)) fail_invalid("tokenizer input: not valid UTF-8 text");
  const Plugin& p = checked_plugin();
  std::vector<int> ids(text.size() + 8);
  int n = p.encode(handle_.get(), text.data(), static_cast<int>(text.size()), ids.data(), static_cast<int>(ids.size()));
  if (n > static_cast<int>(ids.size())) {
    ids.resize(static_cast<size_t>(n));
    n = p.encode(handle_.get(), text.data(), static_cast<int>(text.size()), ids.data(), n);
  }
  if (n < 0) fail_invalid(source_ + ": SentencePiece could not encode the text");
  return std::vector<int64_t>(ids.begin(), ids.begin() + n);
}

std::vector<std::string> SentencePieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  for (const auto id : token_ids(text)) out.push_back(token(id));
  return out;
}

const std::string& SentencePieceTokenizer::token(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size())
    fail_invalid(source_ + ": token id " + std::to_string(id) + " is outside the vocabulary (" +
                 std::to_string(pieces_.size()) + " pieces)");
  return pieces_[static_cast<size_t>(id)];
}

void SentencePieceTokenizer::save(const fs::path& dir, int64_t max_length) const {
  core::write_file_atomic(dir / kModelFile, model_bytes_);
  const nlohmann::json config = {{"tokenizer_class", "SentencePiece"},
                                 {"model_file", kModelFile},
                                 {"model_max_length", max_length},
                                 {"special_tokens", {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}}};
  core::write_file_atomic(dir / "tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace medai::text
