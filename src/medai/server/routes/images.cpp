// Image model routes: the repository's models and their cards, prediction and segmentation (PNG,
// JPEG or DICOM; DICOM is de-identified in memory on arrival and decoded from that same dataset).
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medai/core/error.h"
#include "medai/core/sha256.h"
#include "medai/data/seg_dataset.h"
#include "medai/imaging/classifier_model.h"
#include "medai/io/csv.h"
#include "medai/io/dicom.h"
#include "medai/io/dicom_deid.h"
#include "medai/io/dicom_seg.h"
#include "medai/io/image.h"
#include "medai/metrics/segmentation.h"
#include "medai/segmentation/segmenter.h"
#include "medai/server/api.h"
#include "medai/server/batcher.h"
#include "medai/server/model_repository.h"

namespace medai::server {

using nlohmann::json;

namespace {

std::string base64(const std::vector<unsigned char>& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = in[i] << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v = (in[i] << 16) | (in[i + 1] << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

struct Upload {
  io::Image image;
  std::string sha256;  // of what was kept: the de-identified DICOM, or the image bytes
  bool dicom = false;
};

Upload decode_upload(const Request& req, const std::string& secret) {
  const std::string ct = req.header("content-type");
  const std::string base = ct.substr(0, ct.find(';'));
  if (!base.empty() && base != "application/dicom" && base != "image/png" && base != "image/jpeg" &&
      base != "application/octet-stream")
    fail_unsupported("Content-Type '" + base + "': send image/png, image/jpeg or application/dicom");
  if (req.body.empty()) fail_invalid("empty body: send the image bytes");
  const bool has_preamble = req.body.size() >= 132 && req.body.compare(128, 4, "DICM") == 0;
  Upload u;
  if (has_preamble || base == "application/dicom") {
    auto d = io::deidentify_and_decode_dicom(req.body, "upload", secret);
    u.dicom = true;
    u.sha256 = core::sha256_hex(d.bytes);
    u.image = std::move(d.pixels.image);
  } else {
    u.sha256 = core::sha256_hex(req.body);
    u.image = io::decode_image(req.body, "upload");
  }
  return u;
}

double prevalence_param(const Request& req) {
  const std::string v = req.param("prevalence");
  const auto x = io::parse_number(v);
  if (!x || !(*x > 0 && *x < 1)) fail_invalid("prevalence must be a number strictly between 0 and 1 (got '" + v + "')");
  return *x;
}

void predict(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  auto lm = ctx.models.acquire(req.matches.at(1), req.param("version"));  // kept alive until we answer
  if (!lm->model) fail_invalid("model '" + lm->name + "' is a segmenter: POST /v1/models/" + lm->name + "/segment");
  Upload up = decode_upload(req, ctx.deid_secret);
  cv::Mat unit = io::display_frame(up.image);
  json out;
  imaging::Prediction p;
  if (req.param("explain") == "1") {
    std::lock_guard<std::mutex> l(lm->explain_mu);
    auto ex = imaging::explain_image(*lm->model, unit);
    p = ex.prediction;
    std::vector<unsigned char> png;
    cv::imencode(".png", ex.overlay, png);
    out["gradcam_png_base64"] = base64(png);
  } else {
    std::future<imaging::Prediction> f;
    try {
      f = lm->batcher->submit(lm->model->input_tensor(unit));
    } catch (const QueueFull&) {
      fail(ErrorCode::Unavailable, "the model's queue is full; retry shortly");
    }
    if (f.wait_for(std::chrono::seconds(ctx.options.timeout_s)) != std::future_status::ready)
      fail(ErrorCode::Timeout, "prediction did not finish in time");
    p = f.get();
  }
  imaging::apply_input_check(p, imaging::check_input(up.image, lm->model->card.guard.expected));
  if (!req.param("prevalence").empty()) imaging::apply_prevalence(p, *lm->model, prevalence_param(req));
  else if (ctx.options.prevalence > 0 && ctx.options.prevalence < 1 && lm->model->card.prior())
    imaging::apply_prevalence(p, *lm->model, ctx.options.prevalence);
  const double ms = now_ms() - t0;
  out.update(imaging::prediction_fields(p, *lm->model));
  out.update({{"classes", lm->model->class_names()},
              {"model", {{"name", lm->name}, {"version", lm->version}, {"sha256", lm->sha256}}},
              {"input_sha256", up.sha256},
              {"warnings", up.image.warnings},
              {"latency_ms", ms}});
  json logged = {{"label", out["label"]},
                 {"probability", p.probability},
                 {"threshold", p.threshold},
                 {"in_distribution", p.guard.in_distribution}};
  if (!p.guard.in_distribution) logged["ood_reason"] = p.guard.reason;
  if (!up.image.warnings.empty()) logged["warnings"] = up.image.warnings;
  ctx.audit(req, "predict", "predict", logged, ms, up.sha256, {lm->name, lm->version, lm->sha256});  // before answering
  res.json(200, out);
}

// A binary mask of the upload: JSON with the mask and overlay as base64 PNGs, or (format=dicom-seg,
// DICOM uploads) the DICOM SEG itself. The SEG references the instance as it was sent, so it can go
// back to the PACS: it is built in memory from the caller's own bytes, returned only to the caller
// and never stored; the audit keeps the hash of the de-identified upload, as for /predict.
void segment(ServerContext& ctx, const Request& req, Response& res) {
  const double t0 = now_ms();
  auto lm = ctx.models.acquire(req.matches.at(1), req.param("version"));
  if (!lm->segmenter)
    fail_invalid("model '" + lm->name + "' is an image classifier: POST /v1/models/" + lm->name + "/predict");
  const std::string format = req.param("format").empty() ? "json" : req.param("format");
  if (format != "json" && format != "dicom-seg") fail_invalid("format must be json or dicom-seg");
  Upload up = decode_upload(req, ctx.deid_secret);
  if (format == "dicom-seg" && !up.dicom) fail_invalid("format=dicom-seg needs a DICOM upload");
  const data::SegImage im = data::to_seg_image(up.image);
  const auto& seg = *lm->segmenter;
  const std::vector<uint8_t> mask = seg.mask(im);
  size_t fg = 0;
  for (uint8_t v : mask) fg += v;
  const double fraction = mask.empty() ? 0.0 : static_cast<double>(fg) / mask.size();
  const int instances = metrics::watershed_instances(mask, im.width, im.height).count;
  std::string seg_bytes, mask_bytes, overlay_bytes;  // everything is made before the audit row
  if (format == "dicom-seg") {
    seg_bytes = io::make_dicom_seg(req.body, "upload", im.frame, mask, im.width, im.height, seg.card().segment());
  } else {
    mask_bytes = segmentation::mask_png(mask, im.width, im.height);
    overlay_bytes = segmentation::overlay_png(im, mask);
  }
  const double ms = now_ms() - t0;
  json logged = {{"foreground_fraction", fraction}, {"instances", instances}, {"format", format}};
  ctx.audit(req, "segment", "segment", logged, ms, up.sha256, {lm->name, lm->version, lm->sha256});
  if (format == "dicom-seg") {
    res.status = 200;
    res.content_type = "application/dicom";
    res.body = std::move(seg_bytes);
    return;
  }
  res.json(200, {{"width", im.width},
                 {"height", im.height},
                 {"label", seg.card().label},
                 {"threshold", seg.card().threshold},
                 {"foreground_fraction", fraction},
                 {"instances", instances},
                 {"mask_png_base64", base64({mask_bytes.begin(), mask_bytes.end()})},
                 {"overlay_png_base64", base64({overlay_bytes.begin(), overlay_bytes.end()})},
                 {"model", {{"name", lm->name}, {"version", lm->version}, {"sha256", lm->sha256}}},
                 {"input_sha256", up.sha256},
                 {"warnings", up.image.warnings},
                 {"latency_ms", ms}});
}

}  // namespace

void register_image_routes(ServerContext& ctx, std::vector<Route>& routes) {
  routes.push_back({"GET", "/v1/models", "models", Role::Clinician,
                    [&ctx](const Request&, Response& res) { res.json(200, ctx.models.list()); }});
  routes.push_back(
      {"GET", R"(/v1/models/([^/]+))", "model_card", Role::Clinician, [&ctx](const Request& req, Response& res) {
         auto v = ctx.models.info(req.matches.at(1), req.param("version"));
         res.json(
             200,
             {{"name", v.name}, {"version", v.version}, {"state", v.state}, {"sha256", v.sha256}, {"card", v.card}});
       }});
  routes.push_back({"POST", R"(/v1/models/([^/]+)/predict)", "predict", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { predict(ctx, req, res); }});
  routes.push_back({"POST", R"(/v1/models/([^/]+)/segment)", "segment", Role::Clinician,
                    [&ctx](const Request& req, Response& res) { segment(ctx, req, res); }});
}

}  // namespace medai::server
