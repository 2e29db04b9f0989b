// medai gan train | sample | evaluate: synthetic images from a (class-conditional) GAN, always
// marked as synthetic, with fidelity and a memorisation audit measured.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/error.h"
#include "medai/core/runtime.h"
#include "medai/synthesis/evaluate_gan.h"
#include "medai/synthesis/gan_model.h"
#include "medai/synthesis/train_gan.h"
#include "medai/train/torch_helpers.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void add_train_command(CLI::App* gan, GlobalOptions& g) {
  auto o = std::make_shared<synthesis::GanTrainOptions>();
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = gan->add_subcommand("train", "train a DCGAN (hinge loss, spectral norm, DiffAugment, EMA generator)");
  cmd->add_option("--data", o->data, "DIR with one folder per class, or a CSV index (path,label[,patient_id][,split])")
      ->required();
  cmd->add_option("--out", o->out, "run folder to write")->required();
  cmd->add_option("--split", o->split, "rows of a CSV index whose 'split' column is this (e.g. RUN/split.csv train)");
  cmd->add_option("--size", o->image_size, "image side, 64 or 128 px")->capture_default_str();
  cmd->add_flag("--conditional", o->conditional, "class-conditional (needs two or more classes)");
  cmd->add_option("--epochs", o->epochs)->capture_default_str();
  cmd->add_option("--batch", o->batch_size)->capture_default_str();
  cmd->add_option("--lr-g", o->lr_generator, "generator learning rate (Adam)")->capture_default_str();
  cmd->add_option("--lr-d", o->lr_discriminator, "discriminator learning rate (Adam)")->capture_default_str();
  cmd->add_option("--z-dim", o->z_dim, "noise dimensions")->capture_default_str();
  cmd->add_option("--width", o->width, "channels of the discriminator's first stage")->capture_default_str();
  cmd->add_option("--ema", o->ema, "decay of the generator's moving average; 0 = off")->capture_default_str();
  cmd->add_option("--mode-seeking", o->mode_seeking,
                  "weight of the mode-seeking regulariser (MSGAN) against a generator that ignores its noise; 0 = off")
      ->capture_default_str();
  cmd->add_flag("!--no-diff-augment", o->diff_augment, "no DiffAugment before the discriminator");
  cmd->add_option("--feature-epochs", o->feature_epochs,
                  "epochs of the feature network for gan evaluate (an image classifier on the same images); 0 = none")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--max-batches", o->max_batches_per_epoch, "cap batches per epoch (smoke tests)");
  cmd->add_flag("--resume", o->resume, "continue an interrupted run in --out");
  cmd->add_flag("--json", *json_out, "print the model card as JSON");
  cmd->callback([&g, o, json_out] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->progress = !*json_out && !g.quiet;
    check_fresh_out(o->out, o->resume);
    const json card = synthesis::train_gan(*o);
    if (*json_out) return print_json(card);
    std::printf("GAN written to %s: %d epochs, %.0f images/s; sample grids in %s\n", o->out.string().c_str(),
                card["training_run"]["epochs_run"].get<int>(), card["training_run"]["images_per_second"].get<double>(),
                (o->out / "samples").string().c_str());
  });
}

void add_sample_command(CLI::App* gan, GlobalOptions& g) {
  struct Opt {
    fs::path model, out;
    int64_t n = 64;
    std::string cls;
    uint64_t seed = 1;
    bool json = false;
  };
  auto o = std::make_shared<Opt>();
  auto* cmd = gan->add_subcommand("sample", "write generated images as PNG, each marked SYNTHETIC");
  cmd->add_option("--model", o->model, "run folder (medai gan train)")->required();
  cmd->add_option("--n", o->n, "images")->check(CLI::Range(int64_t{1}, int64_t{100000}))->capture_default_str();
  cmd->add_option("--class", o->cls, "class name (conditional models; default: the training class mix)");
  cmd->add_option("--out", o->out, "folder to write")->required();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_flag("--json", o->json, "print what was written as JSON");
  cmd->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    train::apply_torch_threads();
    auto gan = synthesis::GanModel::load(o->model);
    if (!o->cls.empty() && !gan.conditional())
      fail_invalid("--class " + o->cls + ": " + o->model.string() +
                   " is unconditional (trained without --conditional)");
    std::vector<std::pair<int64_t, int64_t>> plan;  // (class, count)
    if (!o->cls.empty() || !gan.conditional()) {
      plan.emplace_back(o->cls.empty() ? 0 : gan.class_index(o->cls), o->n);
    } else {
      const auto mix = gan.class_mix(o->n);
      for (size_t c = 0; c < mix.size(); ++c) plan.emplace_back(static_cast<int64_t>(c), mix[c]);
    }
    json files = json::array();
    for (const auto& [c, k] : plan) {
      if (k == 0) continue;
      for (const auto& p :
           synthesis::write_synthetic_pngs(gan, gan.sample(k, c, o->seed + static_cast<uint64_t>(c)), c, o->out))
        files.push_back(p.filename().string());
    }
    if (o->json)
      return print_json({{"model", gan.name}, {"out", o->out.string()}, {"synthetic", true}, {"files", files}});
    std::printf("%zu SYNTHETIC images of %s written to %s\n", files.size(), gan.name.c_str(), o->out.string().c_str());
  });
}

void add_evaluate_command(CLI::App* gan, GlobalOptions& g) {
  auto o = std::make_shared<synthesis::GanEvalOptions>();
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = gan->add_subcommand("evaluate",
                                  "Frechet distance, KID, precision/recall (medai features) and a memorisation audit");
  cmd->add_option("--model", o->model, "run folder (medai gan train)")->required();
  cmd->add_option("--data", o->data, "real images: DIR of class folders or a CSV index")->required();
  cmd->add_option("--split", o->split, "rows of a CSV index whose 'split' column is this");
  cmd->add_option("--features", o->features,
                  "image classifier run whose features are compared (default: RUN/features)");
  cmd->add_option("--out", o->out, "folder for the closest pairs and the per-sample table (default: RUN/evaluation)");
  cmd->add_option("--n", o->n, "generated samples (default: as many as half of --data)");
  cmd->add_option("--pairs", o->pairs, "closest sample/training pairs saved as PNG")->capture_default_str();
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_flag("--json", *json_out, "print the report as JSON");
  cmd->callback([&g, o, json_out] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->progress = !*json_out && !g.quiet;
    const json r = synthesis::evaluate_gan(*o);
    if (*json_out) return print_json(r);
    std::printf("Frechet %.4g (real vs real %.4g, ratio %.2f), KID %.4g, precision %.3f, recall %.3f, memorised %.3f\n",
                r["frechet"].get<double>(), r["frechet_real_vs_real"].get<double>(), r["frechet_ratio"].get<double>(),
                r["kid"].get<double>(), r["precision"].get<double>(), r["recall"].get<double>(),
                r["memorised_share"].get<double>());
  });
}

}  // namespace

void add_gan_commands(CLI::App& app, GlobalOptions& g) {
  auto* gan = app.add_subcommand(
      "gan", "synthetic images: train, sample (marked SYNTHETIC), evaluate fidelity and memorisation");
  gan->require_subcommand(1);
  add_train_command(gan, g);
  add_sample_command(gan, g);
  add_evaluate_command(gan, g);
}

}  // namespace medai::app
