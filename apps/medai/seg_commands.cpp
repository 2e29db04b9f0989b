// medai seg train | evaluate | predict
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "medai/core/atomic_file.h"
#include "medai/core/error.h"
#include "medai/core/precision.h"
#include "medai/core/run_folder.h"
#include "medai/core/runtime.h"
#include "medai/io/dicom_seg.h"
#include "medai/io/image.h"
#include "medai/metrics/segmentation.h"
#include "medai/segmentation/segmenter.h"

namespace medai::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void add_train_command(CLI::App* seg, GlobalOptions& g) {
  auto* tr = seg->add_subcommand("train", "train a U-Net segmenter (Dice + BCE, validation-chosen threshold)");
  auto o = std::make_shared<segmentation::SegTrainOptions>();
  auto json_out = std::make_shared<bool>(false);
  tr->add_option("--data", o->data, "DIR with index.csv (path,mask_path[,patient_id]) or images/ + masks/")->required();
  tr->add_option("--out", o->out, "run folder to write")->required();
  tr->add_option("--epochs", o->epochs)->capture_default_str();
  tr->add_option("--batch", o->batch_size)->capture_default_str();
  tr->add_option("--crop", o->crop, "training crop side, pixels")->capture_default_str();
  tr->add_option("--tile", o->tile, "inference tile side; larger images are tiled with overlap")->capture_default_str();
  tr->add_option("--lr", o->lr)->capture_default_str();
  tr->add_option("--width", o->width, "U-Net channels of the first stage")->capture_default_str();
  tr->add_option("--depth", o->depth, "U-Net stages")->capture_default_str();
  tr->add_flag("--residual", o->residual, "residual encoder blocks");
  tr->add_option("--label", o->label, "what the masks mark (the segment label of DICOM SEG output)")
      ->capture_default_str();
  tr->add_flag("--invert-bright,!--keep-polarity", o->invert_bright,
               "invert images with a mean above 0.5 (dark objects on a bright ground) for the network (default; "
               "--keep-polarity: feed them as they are)");
  tr->add_flag("--standardise", o->standardise,
               "feed the network per-image standardised pixels (zero mean, unit SD) instead of [0, 1]");
  auto no_tta = std::make_shared<bool>(false);
  tr->add_flag("--no-tta", *no_tta,
               "predict without averaging the eight flips and quarter-turns (8x faster inference)");
  tr->add_option("--patience", o->patience, "epochs without validation Dice gain before stopping")
      ->capture_default_str();
  tr->add_option("--val-fraction", o->validation_fraction)->capture_default_str();
  tr->add_option("--seed", o->seed)->capture_default_str();
  tr->add_option("--max-images", o->max_images, "use only the first N images (quick runs)")->capture_default_str();
  add_precision_option(tr, o->precision);
  tr->add_flag("--resume", o->resume, "continue an interrupted run in --out");
  tr->add_flag("--json", *json_out, "print the model card as JSON");
  tr->callback([&g, o, json_out, no_tta] {
    core::init_runtime({g.threads, g.verbose, g.quiet || *json_out});
    o->tta = !*no_tta;
    o->progress = !*json_out && !g.quiet;
    check_fresh_out(o->out, o->resume);
    const json card = segmentation::train_segmenter(*o);
    if (*json_out) {
      std::printf("%s\n", core::dump_json(card, 2).c_str());
      return;
    }
    const json& v = card["metrics"]["validation"];
    std::printf(
        "segmenter written to %s: validation Dice %.3f (Otsu %.3f), IoU %.3f, instance F1 %.3f, AP %.3f, n %d\n",
        o->out.string().c_str(), v["dice"].get<double>(), v["baseline_otsu"]["dice"].get<double>(),
        v["iou"].get<double>(), v["instance_f1"].get<double>(), v["ap"].get<double>(), v["n"].get<int>());
  });
}

void add_evaluate_command(CLI::App* seg, GlobalOptions& g) {
  auto* ev = seg->add_subcommand("evaluate", "Dice, IoU, instance F1 and DSB AP on a labelled folder, beside Otsu");
  struct Opts {
    fs::path model, data, per_image;
    std::string group_col, precision = "auto";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  ev->add_option("--model", o->model, "run folder")->required();
  ev->add_option("--per-image", o->per_image, "also write CSV: path,group,dice,iou,instance_f1,ap,otsu_dice per image");
  ev->add_option("--data", o->data, "DIR with index.csv (path,mask_path) or images/ + masks/")->required();
  ev->add_option("--group-col", o->group_col, "index column to report per value of (e.g. modality)");
  add_precision_option(ev, o->precision);
  ev->add_flag("--json", o->json, "print the figures as JSON");
  ev->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = segmentation::Segmenter::load(o->model, o->precision);
    const auto ds = data::load_seg_dataset(o->data);
    std::vector<size_t> rows(ds.samples.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    std::string per_image;
    const json r =
        segmentation::evaluate_segmentation(model.as_fn(), model.card().threshold, ds, rows, o->group_col,
                                            !o->json && !g.quiet, o->per_image.empty() ? nullptr : &per_image);
    if (!o->per_image.empty()) core::write_file_atomic(o->per_image, per_image);
    if (o->json) {
      std::printf("%s\n", core::dump_json(r, 2).c_str());
      return;
    }
    auto line = [](const char* name, const json& s) {
      std::printf("%-24s n %4d  Dice %.4f  IoU %.4f  instance F1 %.4f  AP %.4f\n", name, s["n"].get<int>(),
                  s["dice"].get<double>(), s["iou"].get<double>(), s["instance_f1"].get<double>(),
                  s["ap"].get<double>());
    };
    line("u-net", r);
    line("otsu", r["baseline_otsu"]);
    if (r.contains("by_group"))
      for (const auto& [gname, s] : r["by_group"].items()) {
        line(("u-net " + gname).c_str(), s);
        line(("otsu  " + gname).c_str(), s["baseline_otsu"]);
      }
  });
}

void add_predict_command(CLI::App* seg, GlobalOptions& g) {
  auto* pr = seg->add_subcommand("predict", "segment one image: a 0/255 mask PNG (and an overlay)");
  struct Opts {
    fs::path model, file, out, overlay, dicom_seg;
    std::string precision = "auto";
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  pr->add_option("--model", o->model, "run folder")->required();
  pr->add_option("file", o->file, "image (PNG, JPEG, DICOM, NIfTI)")->required();
  pr->add_option("--out", o->out, "mask to write: PNG (0/255), or DICOM SEG when it ends in .dcm (DICOM input)")
      ->required();
  pr->add_option("--dicom-seg", o->dicom_seg, "also write the mask as a DICOM SEG referencing the DICOM input");
  pr->add_option("--overlay", o->overlay, "PNG of the image with the mask drawn on it");
  add_precision_option(pr, o->precision);
  pr->add_flag("--json", o->json, "JSON on stdout");
  pr->callback([&g, o] {
    core::init_runtime({g.threads, g.verbose, g.quiet || o->json});
    const auto model = segmentation::Segmenter::load(o->model, o->precision);
    const io::Image decoded = io::read_image(o->file);
    fs::path seg_out = o->dicom_seg, png_out = o->out;
    if (io::lower_case(o->out.extension().string()) == ".dcm") seg_out = o->out, png_out.clear();
    if (!seg_out.empty() && decoded.format != "dicom")
      fail_invalid(o->file.string() + ": DICOM SEG output needs a DICOM input (this is " + decoded.format + ")");
    const auto im = data::to_seg_image(decoded);
    const auto mask = model.mask(im);
    if (!png_out.empty()) segmentation::write_mask_png(png_out, mask, im.width, im.height);
    if (!seg_out.empty())
      io::write_dicom_seg(o->file, im.frame, mask, im.width, im.height, model.card().segment(), seg_out);
    if (!o->overlay.empty()) segmentation::write_overlay_png(o->overlay, im, mask);
    size_t fg = 0;
    for (auto v : mask) fg += v;
    const int instances = metrics::watershed_instances(mask, im.width, im.height).count;
    const double fraction = static_cast<double>(fg) / mask.size();
    if (o->json) {
      json j = {{"file", o->file.string()},
                {"mask", o->out.string()},
                {"width", im.width},
                {"height", im.height},
                {"threshold", model.card().threshold},
                {"foreground_fraction", fraction},
                {"instances", instances}};
      if (!o->overlay.empty()) j["overlay"] = o->overlay.string();
      if (!seg_out.empty()) j["dicom_seg"] = seg_out.string();
      if (png_out.empty()) j.erase("mask");
      std::printf("%s\n", core::dump_json(j, 2).c_str());
    } else {
      std::printf("%s\tforeground %.1f%%\t%d objects\tmask=%s\n", o->file.string().c_str(), 100 * fraction, instances,
                  o->out.string().c_str());
    }
  });
}

}  // namespace

void add_seg_commands(CLI::App& app, GlobalOptions& g) {
  auto* seg = app.add_subcommand("seg", "image segmentation: U-Net training, evaluation, masks");
  add_train_command(seg, g);
  add_evaluate_command(seg, g);
  add_predict_command(seg, g);
}

}  // namespace medai::app
