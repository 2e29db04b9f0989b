#include "medai/segmentation/segmenter_card.h"

#include "medai/core/error.h"
#include "medai/core/run_folder.h"
#include "medai/core/version.h"

namespace medai::segmentation {

using nlohmann::json;

json SegmenterCard::to_json() const {
  json card = extra;
  core.write(card);
  card["unet"] = {{"width", width}, {"depth", depth}, {"residual", residual}, {"in_channels", in_channels}};
  card["threshold"] = threshold;
  card["tile"] = tile;
  card["tta"] = tta;
  card["invert_bright"] = invert_bright;
  card["standardise"] = standardise;
  card["label"] = label;
  return card;
}

SegmenterCard SegmenterCard::from_json(const json& card, const std::string& where) {
  SegmenterCard c;
  c.core = core::ModelCardCore::read(card, where);
  if (c.core.kind != core::ModelKind::Segmenter || c.core.task != kSegmenterTask)
    fail_invalid(where + ": model card task is '" + c.core.task + "', not a segmenter (medai seg train makes one)");
  if (!card.contains("unet") || !card["unet"].is_object()) fail_invalid(where + ": no 'unet' object");
  const json& u = card["unet"];
  c.width = core::json_int(u, "width", where + " unet", 2, 256);
  c.depth = core::json_int(u, "depth", where + " unet", 2, 6);
  c.residual = core::json_bool(u, "residual", where + " unet", false);
  c.in_channels = core::json_int(u, "in_channels", where + " unet", 1, 16);
  c.threshold = core::json_number(card, "threshold", where, 0.0, 1.0);
  c.tile = core::json_int(card, "tile", where, 16, 4096);
  c.tta = core::json_bool(card, "tta", where, false);
  c.invert_bright = core::json_bool(card, "invert_bright", where, false);
  c.standardise = core::json_bool(card, "standardise", where, false);
  c.label = card.contains("label") ? core::json_string(card, "label", where) : "foreground";
  if (c.label.empty() || c.label.size() > 64) fail_invalid(where + ": 'label' must have 1..64 characters");
  c.extra = core::card_extras(card, {"unet", "threshold", "tile", "tta", "invert_bright", "standardise", "label"});
  return c;
}

io::SegmentDescription SegmenterCard::segment() const {
  io::SegmentDescription d;
  d.label = label;
  d.algorithm_name = "medai U-Net";
  d.algorithm_version = kVersion;
  d.series_description = "medai segmentation: " + label;
  return d;
}

}  // namespace medai::segmentation
