// medai image train | evaluate | predict | explain | export | import
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/core/sha256.h"
#include "medai/core/version.h"
#include "medai/imaging/classifier_card.h"
#include "medai/imaging/classifier_model.h"
#include "medai/imaging/evaluate_classifier.h"
#include "medai/imaging/fit_guard.h"
#include "medai/imaging/torchscript_interop.h"
#include "medai/imaging/train_classifier.h"
#include "medai/io/csv.h"
#include "medai/io/image.h"
#include "medai/train/distributed_env.h"
#include "medai/train/torch_helpers.h"
#include "medai/train/trainer.h"
#include "medai/transforms/transforms.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::shared_ptr<std::string> inference_precision(CLI::App* cmd) {
  auto p = std::make_shared<std::string>("auto");
  add_precision_option(cmd, *p);
  return p;
}

void start(const GlobalOptions& g, bool json_out, const std::string& precision = "auto") {
  core::init_runtime({g.threads, g.verbose, g.quiet || json_out});
  core::set_inference_precision(core::resolve_precision(precision));
  train::apply_torch_threads();
  spdlog::info("medai {} ({}, torch threads {})", kVersion, core::runtime_summary(), torch::get_num_threads());
}

// One frame in [0, 1]; header values ignored with a fallback are reported on stderr and kept
// for the JSON answer.
struct UnitImage {
  cv::Mat unit;
  std::vector<std::string> warnings;
  std::optional<std::string> problem;  // the guard's input checks (imaging/ood_guard.h)
};
UnitImage read_unit(const fs::path& file, const imaging::ClassifierModel& model) {
  io::Image img = io::read_image(file);
  for (const auto& w : img.warnings) std::fprintf(stderr, "warning: %s: %s\n", file.string().c_str(), w.c_str());
  return {io::display_frame(img), img.warnings, imaging::check_input(img, model.card.guard.expected)};
}

json prediction_json(const fs::path& file, const imaging::Prediction& p, const imaging::ClassifierModel& m,
                     const std::vector<std::string>& warnings) {
  json j = imaging::prediction_fields(p, m);
  j["file"] = file.string();
  j["warnings"] = warnings;
  return j;
}

// The text line of a prediction: the label, or "withheld" and why.
std::string prediction_text(const imaging::Prediction& p) {
  if (p.guard.in_distribution) return p.label;
  return "withheld (out of distribution: " + p.guard.reason + ")";
}

// The guard's options (imaging/fit_guard.h) on `cmd`; `age` takes MIN-MAX in years.
void add_guard_options(CLI::App* cmd, imaging::GuardOptions& o, std::string& age) {
  cmd->add_option("--guard-acceptance", o.acceptance,
                  "out-of-distribution guard: share of validation images its threshold lets through")
      ->capture_default_str();
  cmd->add_option("--expect-modality", o.expected.modalities,
                  "DICOM modalities of the training population (comma list; 'any' = not checked)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--expect-body-part", o.expected.body_parts, "DICOM BodyPartExamined values ('any' = not checked)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--expect-view", o.expected.views, "DICOM ViewPosition values, e.g. AP,PA (default: not checked)")
      ->delimiter(',');
  cmd->add_option("--expect-age", age,
                  "patient age range in years, MIN-MAX (either may be empty; default: not checked)");
}

// Applies 'any' and the age range after parsing.
void finish_guard_options(imaging::GuardOptions& o, const std::string& age) {
  for (auto* list : {&o.expected.modalities, &o.expected.body_parts, &o.expected.views})
    if (list->size() == 1 && io::lower_case(list->front()) == "any") list->clear();
  if (age.empty()) return;
  const auto dash = age.find('-');
  if (dash == std::string::npos) fail_invalid("--expect-age: give MIN-MAX in years, e.g. 0-16");
  auto number = [&](const std::string& t) -> std::optional<double> {
    if (t.empty()) return std::nullopt;
    const auto v = io::parse_number(t);
    if (!v || !(*v >= 0 && *v <= 150)) fail_invalid("--expect-age: '" + t + "' is not an age in years");
    return v;
  };
  o.expected.min_age_years = number(age.substr(0, dash));
  o.expected.max_age_years = number(age.substr(dash + 1));
}

void add_train_command(CLI::App* image, GlobalOptions& g) {
  auto* train = image->add_subcommand("train", "train a two-class detector, calibrate it, write a run folder");
  auto t = std::make_shared<imaging::TrainOptions>();
  auto t_json = std::make_shared<bool>(false);
  auto t_target = std::make_shared<double>(0);
  train
      ->add_option("--data", t->data,
                   "class folders DIR/<CLASS>/*.png|dcm|jpg|nii, or a CSV index (path,label[,patient_id][,split])")
      ->required();
  train->add_option("--out", t->out, "run folder to create")->required();
  train->add_option("--split", t->split, "use only CSV rows whose 'split' column has this value");
  train->add_option("--arch", t->architecture, "resnet18 | resnet34 | resnet50 | densenet121")->capture_default_str();
  train->add_option("--size", t->image_size, "input side in pixels")->capture_default_str();
  train->add_option("--epochs", t->epochs, "maximum epochs")->capture_default_str();
  train->add_option("--batch", t->batch_size, "batch size")->capture_default_str();
  train->add_option("--lr", t->lr, "peak learning rate (AdamW)")->capture_default_str();
  train->add_option("--weight-decay", t->weight_decay, "AdamW weight decay")->capture_default_str();
  train->add_option("--schedule", t->schedule, "cosine | onecycle | constant")->capture_default_str();
  train->add_option("--patience", t->patience, "early stopping: epochs without validation AUROC gain")
      ->capture_default_str();
  train->add_option("--val-fraction", t->validation_fraction, "validation share, split by patient")
      ->capture_default_str();
  train->add_option("--seed", t->seed, "seed for split, initialisation, shuffling and augmentation")
      ->capture_default_str();
  auto t_split_seed = std::make_shared<uint64_t>(0);
  train->add_option("--split-seed", *t_split_seed,
                    "seed of the validation split only (default: --seed), so runs of other seeds share a split");
  train->add_option("--target-sensitivity", *t_target,
                    "choose the threshold for this sensitivity instead of Youden's J");
  train->add_flag("--resume", t->resume, "continue an interrupted run in --out");
  train->add_flag("--hflip", t->horizontal_flip, "random horizontal flips (off: chest laterality matters)");
  train->add_flag("!--no-augment", t->augment, "disable augmentation");
  train
      ->add_option("--augment-strength", t->augment_strength,
                   "multiply every augmentation range (rotation, zoom, shift, tone) by this")
      ->capture_default_str();
  train->add_option("--label-smoothing", t->label_smoothing, "cross-entropy label smoothing")->capture_default_str();
  train->add_option("--mixup", t->mixup, "mixup of image pairs, Beta(a, a); 0 = off")->capture_default_str();
  train->add_flag("--distributed", t->distributed,
                  "data-parallel over c10d/Gloo (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun sets them); "
                  "rank 0 writes the run");
  train->add_option("--ema", t->ema, "keep the moving average of the weights with this decay; 0 = off")
      ->capture_default_str();
  train
      ->add_option("--train-fraction", t->train_fraction,
                   "keep this share of the training patients (grouped, per class; validation unchanged)")
      ->capture_default_str();
  train->add_option("--synthetic", t->synthetic, "a conditional GAN run (medai gan train) whose images join training");
  train->add_option("--synthetic-ratio", t->synthetic_ratio, "generated images per real training image")
      ->capture_default_str();
  train->add_flag("!--no-cache", t->cache, "decode images from disk every epoch instead of keeping them in memory");
  train->add_option("--workers", t->workers, "loader threads (default: cores)");
  train->add_option("--max-batches", t->max_batches_per_epoch, "cap batches per epoch (smoke tests)");
  add_precision_option(train, t->precision);
  auto t_age = std::make_shared<std::string>();
  add_guard_options(train, t->guard, *t_age);
  train->add_flag("--json", *t_json, "print the model card as JSON on stdout");
  train->callback([&g, t, t_json, t_target, train, t_age, t_split_seed] {
    start(g, *t_json);
    finish_guard_options(t->guard, *t_age);
    if (train->count("--target-sensitivity")) t->target_sensitivity = *t_target;
    if (train->count("--split-seed")) t->split_seed = *t_split_seed;
    t->progress = !*t_json;
    const bool writer = !t->distributed || train::distributed_env_from_environment().rank == 0;
    if (writer) check_fresh_out(t->out, t->resume);
    json card = imaging::train_classifier(*t);
    if (!writer) std::cout << "rank " << card.value("rank", 0) << " done (rank 0 writes " << t->out.string() << ")\n";
    else if (*t_json) std::cout << core::dump_json(card, 2) << "\n";
    else std::cout << "model written to " << t->out.string() << "\n";
  });
}

void add_evaluate_command(CLI::App* image, GlobalOptions& g) {
  auto* eval = image->add_subcommand("evaluate", "metrics with 95% CIs, calibration and ROC on labelled data");
  auto e = std::make_shared<imaging::EvaluateOptions>();
  auto e_json = std::make_shared<bool>(false);
  eval->add_option("--model", e->model, "run folder")->required();
  eval->add_option("--data", e->data, "class folders or CSV index")->required();
  eval->add_option("--split", e->split, "CSV 'split' filter");
  eval->add_option("--report", e->report_dir, "write roc.png and reliability.png here");
  eval->add_option("--bootstrap", e->bootstrap_reps, "bootstrap resamples for CIs")->capture_default_str();
  eval->add_option("--class-mix", e->class_mix,
                   "prevalences to resample the data to, e.g. 0.1,0.3,0.5 (metrics with and without prior shift)")
      ->delimiter(',');
  eval->add_option("--group-col", e->group_column, "report per value of this CSV index column (e.g. subtype)");
  eval->add_option("--perturb", e->perturbations,
                   "re-score under simulated acquisition changes: 'all' or a comma list of blur, noise, lowres, "
                   "gamma-low, gamma-high, contrast-low, sharpen, zoom-in, zoom-out, shift")
      ->delimiter(',');
  eval->add_option("--scores", e->scores_csv,
                   "write each image's probability (and one column per --perturb change) to this CSV");
  eval->add_option("--tta", e->tta, "test-time augmentation: average the logits over this many views (1-8)")
      ->capture_default_str();
  auto e_prev = std::make_shared<double>(0);
  eval->add_option("--prevalence", *e_prev, "adjust the probabilities to this deployment prevalence first");
  eval->add_flag("--json", *e_json, "one JSON object on stdout");
  auto eval_precision = inference_precision(eval);
  eval->callback([&g, e, e_json, eval_precision, e_prev, eval] {
    start(g, *e_json, *eval_precision);
    e->progress = !*e_json;
    if (eval->count("--prevalence")) e->prevalence = *e_prev;
    if (e->perturbations == std::vector<std::string>{"all"}) e->perturbations = transforms::perturbation_names();
    const auto r = imaging::evaluate_classifier(*e);
    if (*e_json) {
      json j = imaging::report_json(r.report);
      j.update(r.shift);
      std::cout << core::dump_json(j, 2) << "\n";
      return;
    }
    std::cout << imaging::report_table(r.report);
    if (r.shift.contains("class_mix")) {
      std::printf("\nresampled to other class mixes (mean of %d resamples)\n", 200);
      std::printf("prevalence  accuracy  sens    spec    PPV     NPV     ECE     ECE adjusted\n");
      for (const auto& m : r.shift["class_mix"]) {
        auto v = [&](const char* k) { return m[k].is_number() ? m[k].get<double>() : std::nan(""); };
        std::printf("%-10.2f  %.4f    %.4f  %.4f  %.4f  %.4f  %.4f  %.4f\n", v("prevalence"), v("accuracy"),
                    v("sensitivity"), v("specificity"), v("ppv"), v("npv"), v("ece"), v("ece_adjusted"));
      }
    }
    if (r.shift.contains("guard"))
      std::printf("guard        %d of %d images pass the out-of-distribution guard (%.1f%%)\n",
                  r.shift["guard"]["passed"].get<int>(), r.shift["guard"]["images"].get<int>(),
                  100 * r.shift["guard"]["acceptance"].get<double>());
    if (r.shift.contains("perturbations")) {
      std::printf("\nunder simulated acquisition changes (same images, same threshold)\n");
      std::printf("%-13s AUROC   accuracy  sens    spec    ECE     guard pass\n", "change");
      for (const auto& m : r.shift["perturbations"]) {
        auto v = [&](const char* k) { return m.contains(k) && m[k].is_number() ? m[k].get<double>() : std::nan(""); };
        std::printf("%-13s %.4f  %.4f    %.4f  %.4f  %.4f  %.3f\n", m["name"].get<std::string>().c_str(), v("auroc"),
                    v("accuracy"), v("sensitivity"), v("specificity"), v("ece"), v("guard_acceptance"));
      }
    }
    if (r.shift.contains("by_group")) {
      std::printf("\nby %s\n", e->group_column.c_str());
      for (const auto& [name, m] : r.shift["by_group"].items())
        std::printf("%-12s n %-5d accuracy %s  sensitivity %s  specificity %s\n", name.c_str(), m["n"].get<int>(),
                    m["accuracy"].dump().c_str(), m["sensitivity"].dump().c_str(), m["specificity"].dump().c_str());
    }
  });
}

void add_predict_command(CLI::App* image, GlobalOptions& g) {
  auto* pred = image->add_subcommand("predict", "label and calibrated probability for image files");
  auto p_model = std::make_shared<fs::path>();
  auto p_files = std::make_shared<std::vector<fs::path>>();
  auto p_json = std::make_shared<bool>(false);
  pred->add_option("--model", *p_model, "run folder")->required();
  pred->add_option("files", *p_files, "PNG/JPEG/DICOM/NIfTI files (NIfTI: middle slice)")->required();
  pred->add_flag("--json", *p_json, "JSON array on stdout");
  auto p_prev = std::make_shared<double>(0);
  pred->add_option("--prevalence", *p_prev,
                   "deployment prevalence of the positive class: probabilities adjusted to it (prior shift)");
  auto pred_precision = inference_precision(pred);
  pred->callback([&g, p_model, p_files, p_json, pred_precision, p_prev, pred] {
    start(g, *p_json, *pred_precision);
    auto model = imaging::ClassifierModel::load(*p_model);
    json out = json::array();
    for (const auto& f : *p_files) {
      const UnitImage u = read_unit(f, model);
      auto p = model.predict(u.unit);
      imaging::apply_input_check(p, u.problem);
      if (pred->count("--prevalence")) imaging::apply_prevalence(p, model, *p_prev);
      if (*p_json) out.push_back(prediction_json(f, p, model, u.warnings));
      else
        std::printf("%s\t%s\tp=%.4f\tthreshold=%.4f\n", f.string().c_str(), prediction_text(p).c_str(), p.probability,
                    p.threshold);
    }
    if (*p_json) std::cout << core::dump_json(out, 2) << "\n";
  });
}

void add_explain_command(CLI::App* image, GlobalOptions& g) {
  auto* expl = image->add_subcommand("explain", "Grad-CAM heatmap over the image");
  auto x_model = std::make_shared<fs::path>(), x_file = std::make_shared<fs::path>(),
       x_out = std::make_shared<fs::path>();
  auto x_class = std::make_shared<int>(-1);
  auto x_json = std::make_shared<bool>(false);
  expl->add_option("--model", *x_model, "run folder")->required();
  expl->add_option("file", *x_file, "image file")->required();
  expl->add_option("--out", *x_out, "PNG to write")->required();
  expl->add_option("--class", *x_class, "class index to explain (default: the positive class)");
  expl->add_flag("--json", *x_json, "JSON on stdout");
  auto x_prev = std::make_shared<double>(0);
  expl->add_option("--prevalence", *x_prev, "deployment prevalence of the positive class (prior shift)");
  auto expl_precision = inference_precision(expl);
  expl->callback([&g, x_model, x_file, x_out, x_class, x_json, expl_precision, x_prev, expl] {
    start(g, *x_json, *expl_precision);
    auto model = imaging::ClassifierModel::load(*x_model);
    const UnitImage u = read_unit(*x_file, model);
    auto ex = imaging::explain_image(model, u.unit, *x_class);
    imaging::apply_input_check(ex.prediction, u.problem);
    if (expl->count("--prevalence")) imaging::apply_prevalence(ex.prediction, model, *x_prev);
    io::write_png(*x_out, ex.overlay);
    if (*x_json) {
      json j = prediction_json(*x_file, ex.prediction, model, u.warnings);
      j["heatmap"] = x_out->string();
      j["explained_class"] = model.class_names()[ex.target_class];
      std::cout << core::dump_json(j, 2) << "\n";
    } else {
      std::printf("%s\t%s\tp=%.4f\theatmap=%s\n", x_file->string().c_str(), prediction_text(ex.prediction).c_str(),
                  ex.prediction.probability, x_out->string().c_str());
    }
  });
}

void add_export_command(CLI::App* image, GlobalOptions& g) {
  auto* exp = image->add_subcommand("export", "write the model as TorchScript for python3-torch");
  auto ex_model = std::make_shared<fs::path>(), ex_out = std::make_shared<fs::path>();
  exp->add_option("--model", *ex_model, "run folder")->required();
  exp->add_option("--torchscript", *ex_out, "output .pt file")->required();
  auto ex_json = std::make_shared<bool>(false);
  exp->add_flag("--json", *ex_json, "JSON on stdout");
  exp->callback([&g, ex_model, ex_out, ex_json] {
    start(g, *ex_json);
    auto model = imaging::ClassifierModel::load(*ex_model, /*for_inference=*/false);
    imaging::export_torchscript(*model.net, *ex_out);
    if (*ex_json)
      std::cout << core::dump_json(json{{"torchscript", ex_out->string()},
                                        {"sha256", core::sha256_file(*ex_out)},
                                        {"input_shape", {"N", 1, model.image_size(), model.image_size()}},
                                        {"input", "per-image z-scored [0, 1] display image"},
                                        {"output", "logits"},
                                        {"classes", model.class_names()}},
                                   2)
                << "\n";
    else
      std::printf("TorchScript written to %s (input: N x 1 x %d x %d, per-image z-scored; output: logits)\n",
                  ex_out->string().c_str(), model.image_size(), model.image_size());
  });
}

void add_import_command(CLI::App* image, GlobalOptions& g) {
  auto* imp = image->add_subcommand("import", "make a run folder from a TorchScript classifier made in PyTorch");
  auto im_file = std::make_shared<fs::path>(), im_out = std::make_shared<fs::path>();
  auto im_arch = std::make_shared<std::string>("resnet18");
  auto im_size = std::make_shared<int>(128);
  auto im_classes = std::make_shared<std::vector<std::string>>();
  auto im_threshold = std::make_shared<double>(0.5);
  imp->add_option("--torchscript", *im_file, "TorchScript file (torchvision layout, 1 input channel)")->required();
  imp->add_option("--arch", *im_arch, "its architecture")->capture_default_str();
  imp->add_option("--out", *im_out, "run folder to create")->required();
  imp->add_option("--size", *im_size, "input side in pixels")->capture_default_str();
  imp->add_option("--classes", *im_classes, "class names in output order")->delimiter(',')->required();
  imp->add_option("--threshold", *im_threshold, "decision threshold on the last class's probability")
      ->capture_default_str();
  auto im_json = std::make_shared<bool>(false);
  imp->add_flag("--json", *im_json, "print the new model card as JSON on stdout");
  imp->callback([&g, im_file, im_out, im_arch, im_size, im_classes, im_threshold, im_json] {
    start(g, *im_json);
    if (fs::exists(*im_out / core::kModelCardFile)) fail_invalid(im_out->string() + ": already holds a model");
    if (*im_size < nn::kMinInputSize) fail_invalid("--size must be at least " + std::to_string(nn::kMinInputSize));
    if (im_classes->size() < 2) fail_invalid("--classes needs at least two names");
    auto net = nn::make_classifier(*im_arch, 1, static_cast<int64_t>(im_classes->size()));
    imaging::import_torchscript_weights(*im_file, *net);
    fs::create_directories(*im_out);
    imaging::save_weights(*net, *im_out / imaging::kWeightsFile);
    imaging::ClassifierCard c;
    c.core = core::ModelCardCore::fresh(*im_out, core::ModelKind::Classifier, imaging::kClassifierTask);
    c.core.architecture = *im_arch;
    c.core.inputs = {{"image", "one radiograph: PNG/JPEG (8/16-bit), DICOM or NIfTI (middle slice)", "pixels"}};
    c.core.intended_use = "Imported model: not validated by medai. Run medai image evaluate before any use.";
    c.core.limitations = {"Not validated by medai; threshold and calibration were not fitted on data."};
    c.classes = *im_classes;
    c.positive_index = static_cast<int>(im_classes->size()) - 1;
    c.image_size = *im_size;
    c.preprocessing_steps = {"as medai image train: [0, 1] display image, resize-pad, per-image z-score"};
    c.operating_point.threshold = *im_threshold;
    c.operating_point.method = "given at import";
    c.extra["imported_from"] = {{"file", im_file->filename().string()}, {"sha256", core::sha256_file(*im_file)}};
    const json card = c.to_json();
    imaging::ClassifierCard::from_json(card,
                                       (*im_out / core::kModelCardFile).string());  // e.g. a threshold outside 0..1
    core::write_json_file(*im_out / core::kModelCardFile, card);
    if (*im_json) std::cout << core::dump_json(card, 2) << "\n";
    else std::printf("imported %s into %s\n", im_file->string().c_str(), im_out->string().c_str());
  });
}

}  // namespace

void add_fit_guard_command(CLI::App* image, GlobalOptions& g) {
  auto* fg = image->add_subcommand("fit-guard", "fit (or refit) a run's out-of-distribution guard on its own split");
  auto o = std::make_shared<imaging::GuardOptions>();
  auto model = std::make_shared<fs::path>();
  auto age = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  fg->add_option("--model", *model, "run folder (with split.csv)")->required();
  add_guard_options(fg, *o, *age);
  fg->add_option("--measure-ood", o->measure_ood,
                 "folders or files of images the model should refuse: the flagged share of each goes on the card")
      ->delimiter(',');
  fg->add_flag("--json", *as_json, "print the guard's card section as JSON");
  fg->callback([&g, o, model, age, as_json] {
    start(g, *as_json);
    finish_guard_options(*o, *age);
    o->progress = !*as_json && !g.quiet;
    const json card = imaging::fit_guard_for_run(*model, *o);
    if (*as_json) std::cout << core::dump_json(card["ood_guard"], 2) << "\n";
    else
      std::printf("guard written to %s: threshold %.2f, validation acceptance %.3f\n", model->string().c_str(),
                  card["ood_guard"]["threshold"].get<double>(),
                  card["ood_guard"]["validation"]["acceptance"].get<double>());
  });
}

void add_image_commands(CLI::App& app, GlobalOptions& g) {
  auto* image = app.add_subcommand("image", "chest X-ray (and other 2-D image) classification");
  image->require_subcommand(1);
  add_train_command(image, g);
  add_fit_guard_command(image, g);
  add_evaluate_command(image, g);
  add_predict_command(image, g);
  add_explain_command(image, g);
  add_export_command(image, g);
  add_import_command(image, g);
}

}  // namespace medai::app
