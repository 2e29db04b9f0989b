#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "medai/core/error.h"
#include "medai/train/trainer.h"

namespace medai::app {

struct GlobalOptions {
  int threads = 0;
  bool verbose = false;
  bool quiet = false;
};

// --precision auto|fp32|bf16 (core/precision.h) into `target`.
inline CLI::Option* add_precision_option(CLI::App* cmd, std::string& target) {
  return cmd
      ->add_option("--precision", target,
                   "auto | fp32 | bf16 (bf16 autocast needs AVX512-BF16 or AMX-BF16; auto = fp32)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16"}))
      ->capture_default_str();
}

// A training command's --out without --resume: refuses a folder that already holds a run
// (train::holds_training_run), naming the flags.
inline void check_fresh_out(const std::filesystem::path& out, bool resume) {
  if (!resume && train::holds_training_run(out))
    fail_invalid(out.string() + ": already holds a training run; pass --resume to continue it or choose another --out");
}

void add_image_commands(CLI::App& app, GlobalOptions& global);
void add_glucose_commands(CLI::App& app, GlobalOptions& global);
void add_seg_commands(CLI::App& app, GlobalOptions& global);
void add_dicom_commands(CLI::App& app, GlobalOptions& global);
void add_server_commands(CLI::App& app, GlobalOptions& global);
void add_system_commands(CLI::App& app, GlobalOptions& global);
void add_text_commands(CLI::App& app, GlobalOptions& global);
void add_survival_commands(CLI::App& app, GlobalOptions& global);
void add_icu_commands(CLI::App& app, GlobalOptions& global);
void add_mol_commands(CLI::App& app, GlobalOptions& global);
void add_gan_commands(CLI::App& app, GlobalOptions& global);
void add_dose_commands(CLI::App& app, GlobalOptions& global);
void add_fl_commands(CLI::App& app, GlobalOptions& global);
// Under `medai mol`: the SMILES language model, sampling and goal-directed optimisation.
void add_mol_generate_commands(CLI::App* mol, GlobalOptions& global);
// A text command's --input: the file's bytes, or standard input for "-"; `name` is what errors call it.
struct TextInput {
  std::string text, name;
};
TextInput read_text_input(const std::string& input);
// Under `medai text`: deid and the dialogue -> note commands (text_note_commands.cpp).
void add_text_note_commands(CLI::App* text, GlobalOptions& global);
// The text commands' JSON output, indented.
void print_json(const nlohmann::json& j);
// The text commands that need libtorch (text_model_commands.cpp), under `medai text`.
void add_text_model_commands(CLI::App* text, GlobalOptions& global);

}  // namespace medai::app
