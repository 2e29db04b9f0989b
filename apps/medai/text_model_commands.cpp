// medai text embed: a Hugging Face BERT-layout folder (config.json, vocab.txt, model.safetensors)
// run on one text. The only text command that needs libtorch.
#include <torch/torch.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/nn/nets/bert.h"
#include "medai/text/text_util.h"
#include "medai/text/wordpiece.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

void add_text_model_commands(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand(
      "embed", "run a BERT-family encoder folder (config.json, vocab.txt, model.safetensors) on one text");
  struct Opts {
    fs::path model;
    std::string input = "-";
    size_t max_length = 128;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--model", o->model, "Hugging Face BERT-layout folder")->required();
  cmd->add_option("--input", o->input, "text file ('-': standard input)")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens, [CLS] and [SEP] included")->capture_default_str();
  cmd->add_flag("--json", o->json, "print the tokens and the [CLS] and mean-pooled vectors as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    text::WordPieceOptions wp;
    if (fs::exists(o->model / "tokenizer_config.json")) {
      const auto tc = json::parse(core::read_file(o->model / "tokenizer_config.json"), nullptr, false);
      if (tc.is_object() && tc.contains("do_lower_case") && tc["do_lower_case"].is_boolean())
        wp.lower_case = wp.strip_accents = tc["do_lower_case"].get<bool>();
    }
    const auto tokenizer = text::WordPieceTokenizer::load(o->model / "vocab.txt", wp);
    auto bert = nn::load_hf_bert(o->model);
    if (static_cast<int64_t>(tokenizer.size()) > bert->config.vocab_size)
      fail_invalid((o->model / "vocab.txt").string() + ": " + std::to_string(tokenizer.size()) +
                   " tokens, but config.json has vocab_size " + std::to_string(bert->config.vocab_size) +
                   ": ids from " + std::to_string(bert->config.vocab_size) + " up are unknown to the model");
    const auto in = read_text_input(o->input);
    text::check_text(in.text, in.name);
    const size_t max_length = std::min<size_t>(o->max_length, static_cast<size_t>(bert->config.max_positions));
    const auto e = tokenizer.encode(in.text, max_length);
    const auto n = static_cast<int64_t>(e.ids.size());
    torch::NoGradGuard no_grad;
    const auto hidden = bert->forward(torch::tensor(e.ids).view({1, n}), torch::tensor(e.attention_mask).view({1, n}),
                                      torch::tensor(e.token_type_ids).view({1, n}))[0];
    const auto cls = hidden[0].contiguous(), mean = hidden.mean(0).contiguous();
    const auto vec = [](const torch::Tensor& t) {
      return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    };
    json tokens = json::array();
    for (auto id : e.ids) tokens.push_back(tokenizer.token(id));
    if (o->json)
      return (void)std::printf(
          "%s\n",
          core::dump_json(
              {{"tokens", tokens}, {"hidden_size", bert->config.hidden}, {"cls", vec(cls)}, {"mean", vec(mean)}}, -1)
              .c_str());
    std::printf("%lld tokens, hidden size %lld, layers %lld: |[CLS]| %.4f, |mean| %.4f\n", static_cast<long long>(n),
                static_cast<long long>(bert->config.hidden), static_cast<long long>(bert->config.layers),
                cls.norm().item<double>(), mean.norm().item<double>());
  });
}

}  // namespace medai::app
