// The only file that includes SentencePiece: a small plugin (libmedai_sentencepiece.so) with a C
// interface, loaded at run time by text/sentencepiece.cpp into a link-map namespace of its own
// (dlmopen). Debian 12's libsentencepiece carries a private copy of protobuf 3.14 that crashes a
// process which also loads libtorch's protobuf 3.21 when both are linked in, and refuses to run
// against 3.21 when loaded plainly (docs/architecture.md); in its own namespace each copy stays
// with its own library. Only C types cross the boundary (the namespaces have separate heaps).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace {
void set_error(char* error, int capacity, const std::string& message) {
  if (!error || capacity <= 0) return;
  const size_t n = std::min(message.size(), static_cast<size_t>(capacity - 1));
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}
}  // namespace

extern "C" {

// SentencePieceTrainer::Train with a flag string ("--input=... --model_prefix=..."); 0 on success.
int medai_spm_train(const char* flags, char* error, int capacity) {
  const auto status = sentencepiece::SentencePieceTrainer::Train(flags);
  if (status.ok()) return 0;
  set_error(error, capacity, status.ToString());
  return 1;
}

void* medai_spm_load(const char* model_path, char* error, int capacity) {
  auto* p = new sentencepiece::SentencePieceProcessor();
  const auto status = p->Load(model_path);
  if (status.ok()) return p;
  set_error(error, capacity, status.ToString());
  delete p;
  return nullptr;
}

void medai_spm_free(void* handle) { delete static_cast<sentencepiece::SentencePieceProcessor*>(handle); }

int medai_spm_size(void* handle) { return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize(); }

// The piece of `id` copied into `out` (NUL-terminated); its length, or -1 when it does not fit.
int medai_spm_piece(void* handle, int id, char* out, int capacity) {
  const std::string& piece = static_cast<sentencepiece::SentencePieceProcessor*>(handle)->IdToPiece(id);
  if (static_cast<int>(piece.size()) >= capacity) return -1;
  std::memcpy(out, piece.data(), piece.size());
  out[piece.size()] = '\0';
  return static_cast<int>(piece.size());
}

int medai_spm_piece_id(void* handle, const char* piece) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->PieceToId(piece);
}

// The ids of `text` (`length` bytes); writes at most `capacity` and returns how many there are.
int medai_spm_encode(void* handle, const char* text, int length, int* ids, int capacity) {
  std::vector<int> v;
  const auto status =
      static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(std::string(text, length), &v);
  if (!status.ok()) return -1;
  for (size_t i = 0; i < v.size() && static_cast<int>(i) < capacity; ++i) ids[i] = v[i];
  return static_cast<int>(v.size());
}

}  // extern "C"
