// medai text embed: a Hugging Face BERT-layout folder (config.json, vocab.txt, model.safetensors)
// run on one text; medai text pretrain: masked-LM pretraining of such an encoder. The text
// commands that need libtorch.
#include <torch/torch.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/nn/nets/bert.h"
#include "medai/text/bert_folder.h"
#include "medai/text/mlm_pretrain.h"
#include "medai/text/text_util.h"
#include "medai/text/wordpiece.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void add_pretrain_command(CLI::App* text, GlobalOptions& g) {
  auto* cmd = text->add_subcommand(
      "pretrain", "masked-LM pretraining of a BERT encoder on CSV text columns (writes a Hugging Face BERT folder)");
  auto o = std::make_shared<text::PretrainOptions>();
  auto json_out = std::make_shared<bool>(false);
  cmd->add_option("--corpus", o->corpus, "CSV files of text (e.g. medquad.csv mts_dialog_train.csv)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--column", o->columns,
                  "text column; several (comma-separated or repeated): per file the first its header has")
      ->required()
      ->delimiter(',');
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--vocab", o->vocab,
                  "an existing vocab.txt or SentencePiece .model (default: learn a vocabulary from the corpus)");
  cmd->add_option("--tokenizer", o->tokenizer, "what to learn: wordpiece (BERT vocab.txt) or sentencepiece (unigram)")
      ->check(CLI::IsMember({"wordpiece", "sentencepiece"}))
      ->capture_default_str();
  cmd->add_option("--vocab-size", o->vocab_size, "size of the learned vocabulary")->capture_default_str();
  cmd->add_option("--hidden", o->hidden)->capture_default_str();
  cmd->add_option("--layers", o->layers)->capture_default_str();
  cmd->add_option("--heads", o->heads)->capture_default_str();
  cmd->add_option("--intermediate", o->intermediate, "feed-forward width")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "tokens per window, [CLS] and [SEP] included")->capture_default_str();
  cmd->add_option("--batch", o->batch_size)->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimisation steps in all (0: as many as fit --time-budget here)")
      ->capture_default_str();
  cmd->add_option("--time-budget", o->time_budget_minutes, "minutes for the whole run when --steps is 0")
      ->capture_default_str();
  cmd->add_option("--steps-per-epoch", o->steps_per_epoch, "steps between validations and checkpoints")
      ->capture_default_str();
  cmd->add_option("--lr", o->lr, "peak learning rate (warm-up, then cosine decay)")->capture_default_str();
  cmd->add_option("--mask-probability", o->mask_probability)->capture_default_str();
  cmd->add_option("--val-fraction", o->validation_fraction, "share of the documents held out")->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_flag("--lower-case,!--cased", o->lower_case, "lower-case and strip accents (default)");
  cmd->add_option("--precision", o->precision,
                  "auto (bf16 autocast where the CPU has AMX-BF16, else fp32) | fp32 | bf16")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
  cmd->add_flag("--resume", o->resume, "continue an interrupted run in --out");
  cmd->add_flag("--json", *json_out, "print the card as JSON");
  cmd->callback([&g, o, json_out] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->progress = !*json_out && !g.quiet;
    check_fresh_out(o->out, o->resume);
    const json card = text::pretrain_mlm(*o);
    if (*json_out) return print_json(card);
    std::printf(
        "encoder written to %s: validation masked-LM loss %.3f, masked-token accuracy %.3f (%lld steps, %.0f s)\n",
        o->out.string().c_str(), card["validation"]["mlm_loss"].get<double>(),
        card["validation"]["masked_token_accuracy"].get<double>(),
        static_cast<long long>(card["training"]["steps"].get<int64_t>()), card["seconds"].get<double>());
  });
}

}  // namespace

void add_text_model_commands(CLI::App* text, GlobalOptions& g) {
  add_pretrain_command(text, g);
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
    auto folder = text::load_bert_folder(o->model);
    const auto& tokenizer = *folder.tokenizer;
    auto& bert = folder.encoder;
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
