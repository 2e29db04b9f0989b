// medai's BERT encoder against a python3-torch BERT in Hugging Face's layout, and the
// safetensors / config errors a corrupt checkpoint must give.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/io/safetensors.h"
#include "medai/nn/nets/bert.h"
#include "support/test_support.h"

using namespace medai;

namespace {
const std::string kScript = std::string(MEDAI_SOURCE_DIR) + "/tests/unit/nn/bert_reference.py";

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error, expected: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Bert, HiddenStatesMatchATorchReferenceFromSafetensors) {
  if (!test::have_python_torch()) GTEST_SKIP() << "python3-torch not installed";
  test::TempDir dir;
  auto r = test::run_command(test::python() + " " + kScript + " " + test::quote(dir.path()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bert = nn::load_hf_bert(dir.path());
  const auto ids = torch::tensor({2, 7, 11, 13, 17, 19, 23, 3, 2, 5, 9, 3, 0, 0, 0, 0}, torch::kInt64).view({2, 8});
  const auto mask = torch::tensor({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, torch::kInt64).view({2, 8});
  const auto types = torch::tensor({0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, torch::kInt64).view({2, 8});
  torch::NoGradGuard no_grad;
  const auto hidden = bert->forward(ids, mask, types);
  const std::string expected = core::read_file(dir / "hidden.f32");
  ASSERT_EQ(expected.size(), static_cast<size_t>(hidden.numel()) * 4);
  auto ref = torch::empty_like(hidden);
  std::memcpy(ref.data_ptr<float>(), expected.data(), expected.size());
  // Padded positions attend like HF's (their own rows are computed but never used): compare all.
  const double delta = (hidden - ref).abs().max().item<double>();
  EXPECT_LE(delta, 1e-4) << "max |delta| " << delta;
  std::printf("medai BERT vs python3-torch reference: max |delta| %.3g\n", delta);
  EXPECT_GT(ref.abs().max().item<double>(), 0.1);

  // A tensor of the wrong shape and a missing tensor name the file and the tensor.
  auto w = io::SafetensorsFile::read(dir / "model.safetensors");
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;
  for (const auto& name : w.names()) tensors[name] = {w.at(name).shape, w.at(name).values};
  tensors["encoder.layer.1.output.dense.weight"].first = {64, 32};
  io::write_safetensors(dir / "bad" / "model.safetensors", tensors);
  core::write_file_atomic(dir / "bad" / "config.json", core::read_file(dir / "config.json"));
  expect_error([&] { nn::load_hf_bert(dir / "bad"); }, "tensor 'encoder.layer.1.output.dense.weight': shape 64x32");
  tensors.erase("encoder.layer.0.attention.self.key.bias");
  io::write_safetensors(dir / "bad" / "model.safetensors", tensors);
  expect_error([&] { nn::load_hf_bert(dir / "bad"); }, "no tensor 'encoder.layer.0.attention.self.key.bias'");
}

TEST(Safetensors, CorruptFilesAreClearErrors) {
  test::TempDir dir;
  io::write_safetensors(dir / "ok.safetensors", {{"a", {{2, 3}, {1, 2, 3, 4, 5, 6}}}});
  const auto ok = io::SafetensorsFile::read(dir / "ok.safetensors");
  EXPECT_EQ(ok.at("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ok.at("a").values[5], 6.0f);

  const auto with_header = [&](const std::string& json, size_t data_bytes, uint64_t declared = 0) {
    const uint64_t n = declared ? declared : json.size();
    std::string b(reinterpret_cast<const char*>(&n), 8);
    b += json + std::string(data_bytes, '\0');
    core::write_file_atomic(dir / "x.safetensors", b);
    return dir / "x.safetensors";
  };
  expect_error([&] { io::SafetensorsFile::read(with_header("{}", 0, 1u << 30)); }, "runs beyond the file");
  expect_error([&] { io::SafetensorsFile::read(with_header("{not json", 0)); }, "not JSON");
  expect_error(
      [&] { io::SafetensorsFile::read(with_header(R"({"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4)); },
      "tensor 'w': unknown dtype 'Q7'");
  expect_error(
      [&] { io::SafetensorsFile::read(with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)); },
      "8 bytes do not hold F32 of 3 elements");
  expect_error(
      [&] { io::SafetensorsFile::read(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)); },
      "fall outside");
  expect_error(
      [&] { io::SafetensorsFile::read(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0)); },
      "negative dimension");
  // F16 and BF16 convert to float32.
  const uint16_t half[2] = {0x3C00, 0xC000};  // 1.0, -2.0
  const uint16_t bf[2] = {0x3F80, 0x4040};    // 1.0, 3.0
  std::string json =
      R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})";
  const uint64_t n = json.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  bytes += json;
  bytes.append(reinterpret_cast<const char*>(half), 4);
  bytes.append(reinterpret_cast<const char*>(bf), 4);
  core::write_file_atomic(dir / "h.safetensors", bytes);
  const auto h = io::SafetensorsFile::read(dir / "h.safetensors");
  EXPECT_EQ(h.at("h").values, (std::vector<float>{1.0f, -2.0f}));
  EXPECT_EQ(h.at("b").values, (std::vector<float>{1.0f, 3.0f}));
}

TEST(Bert, ConfigErrorsNameTheField) {
  const auto cfg = [](const std::string& j) {
    return nn::BertConfig::from_json(nlohmann::json::parse(j), "config.json");
  };
  expect_error([&] { cfg(R"({"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":4})"); }, "'vocab_size'");
  expect_error([&] { cfg(R"({"vocab_size":9,"hidden_size":30,"num_hidden_layers":1,"num_attention_heads":4})"); },
               "not a multiple");
  expect_error(
      [&] {
        cfg(R"({"vocab_size":9,"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":4,"hidden_act":"swish"})");
      },
      "hidden_act 'swish'");
  const auto c = cfg(R"({"vocab_size":9,"hidden_size":32,"num_hidden_layers":1,"num_attention_heads":4})");
  EXPECT_EQ(c.intermediate, 3072);
  EXPECT_EQ(nn::BertConfig::from_json(c.to_json(), "round trip").hidden, 32);
}
