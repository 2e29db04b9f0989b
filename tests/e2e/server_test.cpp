// medai serve end to end: a server on a free loopback port, driven with curl (HTTP stays in
// server/), with a detector trained here on a small chest X-ray subset.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <thread>

#include "e2e_support.h"
#include "medai/io/csv.h"
#include "medai/io/dicom_seg.h"
#include "server_support.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace medai;
using test::Server;
using test::token;
using test::train_text_models;

namespace {

// A small detector (subset, 64 px, one epoch) trained into `out`.
testing::AssertionResult train_small_detector(const fs::path& out, int seed) {
  auto tr = test::run_medai("image train --data " + test::quote(test::subset_dir() / "subset.csv") + " --out " +
                            test::quote(out) + " --size 64 --epochs 1 --batch 16 --val-fraction 0.25 --seed " +
                            std::to_string(seed));
  if (tr.exit_code == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << tr.err;
}

// A tiny U-Net (4 images per modality of the nuclei set, one epoch) trained into `out`.
testing::AssertionResult train_small_segmenter(const fs::path& work, const fs::path& out) {
  test::write_nuclei_subset(work / "nuclei", 4);
  auto tr = test::run_medai("seg train --data " + test::quote(work / "nuclei") + " --out " + test::quote(out) +
                            " --epochs 1 --crop 64 --tile 128 --width 4 --depth 3 --batch 4 --label nucleus");
  if (tr.exit_code == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << tr.err;
}

}  // namespace

TEST(Server, AuthRolesPredictionsAuditAndABadInputBattery) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_TRUE(train_small_detector(dir / "models" / "cxr", 3));
  const std::string clin = token(dir.path(), "clinician"), admin = token(dir.path(), "admin");
  ASSERT_EQ(clin.rfind("mdai_", 0), 0u);
  Server s(dir.path());
  ASSERT_GT(s.port(), 0);

  // Public endpoints; everything else needs a token; roles.
  EXPECT_EQ(s.call("GET", "/healthz").first, 200);
  EXPECT_EQ(s.call("GET", "/readyz").first, 200);
  auto api = s.call("GET", "/openapi.json");
  EXPECT_EQ(api.first, 200);
  EXPECT_EQ(json::parse(api.second)["openapi"], "3.0.3");
  EXPECT_NE(s.call("GET", "/").second.find("Sign in"), std::string::npos);
  auto no = s.call("GET", "/v1/models");
  EXPECT_EQ(no.first, 401);
  EXPECT_EQ(json::parse(no.second)["error"]["code"], "unauthorized");
  EXPECT_EQ(s.call("GET", "/v1/models", "mdai_1_" + std::string(64, '0')).first, 401);
  EXPECT_EQ(s.call("GET", "/v1/models", clin).first, 200);
  EXPECT_EQ(s.call("GET", "/v1/admin/audit", clin).first, 403);
  EXPECT_EQ(s.call("GET", "/v1/admin/audit", admin).first, 200);
  auto card = s.call("GET", "/v1/models/cxr", clin);
  ASSERT_EQ(card.first, 200);
  EXPECT_TRUE(json::parse(card.second)["card"].contains("classes"));

  // Predictions: PNG, and a DICOM that is de-identified on arrival.
  const fs::path png = dir / "x.png";
  cv::imwrite(png.string(), test::quadrant_image(96, 1, 7) * 255);
  auto p = s.call("POST", "/v1/models/cxr/predict", clin, png.string(), "image/png");
  ASSERT_EQ(p.first, 200) << p.second;
  auto pj = json::parse(p.second);
  EXPECT_TRUE(pj.contains("probability") && pj.contains("threshold") && pj["model"].contains("sha256"));
  const fs::path dcm = test::shared_data() / "dicom" / "CT_small.dcm";
  if (fs::exists(dcm)) {
    auto d = s.call("POST", "/v1/models/cxr/predict?explain=1", clin, dcm.string(), "application/dicom");
    ASSERT_EQ(d.first, 200) << d.second;
    EXPECT_GT(json::parse(d.second)["gradcam_png_base64"].get<std::string>().size(), 100u);
  }

  // The battery: none of it may take the server down.
  test::write_text(dir / "junk.dcm", std::string(128, '\0') + "DICM" + std::string(300, 'x'));
  std::string dbytes = fs::exists(dcm) ? test::read_text(dcm) : std::string(2000, 'a');
  test::write_text(dir / "trunc.dcm", dbytes.substr(0, dbytes.size() / 3));
  std::string bomb = test::read_text(png);
  bomb[16] = 0x00;
  bomb[17] = 0x01;
  bomb[18] = 0x86;
  bomb[19] = 0xA0;  // width 100000 in IHDR
  bomb[20] = 0x00;
  bomb[21] = 0x01;
  bomb[22] = 0x86;
  bomb[23] = 0xA0;  // height 100000
  test::write_text(dir / "bomb.png", bomb);
  test::write_text(dir / "bad.json", "{\"history\": ");
  test::write_text(dir / "big.bin", std::string(33u << 20, 'z'));
  struct Case {
    std::string method, path, file, type;
    int status;
  };
  const std::vector<Case> cases{
      {"POST", "/v1/models/cxr/predict", (dir / "junk.dcm").string(), "application/dicom", 422},
      {"POST", "/v1/models/cxr/predict", (dir / "trunc.dcm").string(), "application/dicom", 422},
      {"POST", "/v1/models/cxr/predict", (dir / "bomb.png").string(), "image/png", 400},
      {"POST", "/v1/models/cxr/predict", png.string(), "text/plain", 415},
      {"POST", "/v1/models/nope/predict", png.string(), "image/png", 404},
      {"POST", "/v1/glucose/recommend", (dir / "bad.json").string(), "application/json", 400},
      {"GET", "/v1/no/such/route", "", "", 404},
  };
  int n = 0;
  for (int round = 0; round < 40; ++round)
    for (const auto& c : cases) {
      auto r = s.call(c.method, c.path, clin, c.file, c.type);
      EXPECT_EQ(r.first, c.status) << c.path << " " << c.file << ": " << r.second;
      EXPECT_NO_THROW(json::parse(r.second)) << r.second;
      ++n;
    }
  auto big = s.call("POST", "/v1/models/cxr/predict", clin, (dir / "big.bin").string(), "image/png");
  EXPECT_EQ(big.first, 413);
  EXPECT_GE(n, 280);
  EXPECT_EQ(s.call("GET", "/healthz").first, 200);
  EXPECT_EQ(s.call("POST", "/v1/models/cxr/predict", clin, png.string(), "image/png").first, 200);

  // Glucose decision support over HTTP.
  std::string hist = "{\"history\": \"timestamp,cgm_mgdl\\n";
  for (int i = 0; i < 12; ++i)
    hist += "2026-01-01 07:" + std::string(i < 2 ? "0" : "") + std::to_string(i * 5) + ":00,180\\n";
  hist += "\", \"carbs_g\": 40, \"settings\": {\"basal_u_per_h\": 1, \"cr\": 10, \"cf\": 40, \"tdi\": 40}}";
  test::write_text(dir / "rec.json", hist);
  auto rec = s.call("POST", "/v1/glucose/recommend", clin, (dir / "rec.json").string(), "application/json");
  ASSERT_EQ(rec.first, 200) << rec.second;
  EXPECT_NEAR(json::parse(rec.second)["recommendation"]["bolus_u"].get<double>(), 4.0 + 1.0, 1e-9);
  // The CLI's --boluses-only: no insulin logged then means the programmed basal was delivered.
  EXPECT_NEAR(json::parse(rec.second)["insulin_on_board_u"].get<double>(), 0.0, 1e-9);
  test::write_text(dir / "rec_b.json", hist.substr(0, hist.size() - 1) + ", \"boluses_only\": true}");
  auto rec_b = s.call("POST", "/v1/glucose/recommend", clin, (dir / "rec_b.json").string(), "application/json");
  ASSERT_EQ(rec_b.first, 200) << rec_b.second;
  EXPECT_GT(json::parse(rec_b.second)["insulin_on_board_u"].get<double>(), 0.5);
  test::write_text(dir / "rec_c.json", hist.substr(0, hist.size() - 1) + ", \"boluses_only\": \"yes\"}");
  auto rec_c = s.call("POST", "/v1/glucose/recommend", clin, (dir / "rec_c.json").string(), "application/json");
  EXPECT_EQ(rec_c.first, 400);
  EXPECT_NE(rec_c.second.find("boluses_only"), std::string::npos) << rec_c.second;
  // Warfarin: the built-in IWPC pharmacogenetic formula; a missing age is refused with a 400.
  test::write_text(
      dir / "dose.json",
      R"({"age": 67, "height_cm": 170, "weight_kg": 80, "race": "White", "cyp2c9": "*1/*3", "vkorc1": "A/G"})");
  auto dose = s.call("POST", "/v1/dose/recommend", clin, (dir / "dose.json").string(), "application/json");
  ASSERT_EQ(dose.first, 200) << dose.second;
  EXPECT_NEAR(json::parse(dose.second)["dose_mg_week"].get<double>(), 22.43, 0.01);
  test::write_text(dir / "dose_bad.json", R"({"height_cm": 170, "race": "White"})");
  auto dose_bad = s.call("POST", "/v1/dose/recommend", clin, (dir / "dose_bad.json").string(), "application/json");
  EXPECT_EQ(dose_bad.first, 400);
  EXPECT_NE(dose_bad.second.find("age"), std::string::npos) << dose_bad.second;

  // Admin: unload -> 503 (retry later), load -> 200; both audited.
  EXPECT_EQ(s.call("POST", "/v1/admin/models/cxr/unload", clin).first, 403);
  EXPECT_EQ(s.call("POST", "/v1/admin/models/cxr/unload", admin).first, 200);
  EXPECT_EQ(s.call("POST", "/v1/models/cxr/predict", clin, png.string(), "image/png").first, 503);
  EXPECT_EQ(s.call("POST", "/v1/admin/models/cxr/load", admin).first, 200);
  EXPECT_EQ(s.call("POST", "/v1/models/cxr/predict", clin, png.string(), "image/png").first, 200);
  auto metrics = s.call("GET", "/metrics");
  EXPECT_NE(metrics.second.find("medai_requests_total{route=\"predict\",status=\"200\"}"), std::string::npos);
  EXPECT_NE(metrics.second.find("medai_batch_size_total"), std::string::npos);
  EXPECT_EQ(s.stop(), 0);

  // The audit trail: one row per prediction and admin action, no secrets, no patient identifiers.
  auto exp = test::run_medai("audit export --format json --db " + test::quote(dir / "medai.db"));
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto rows = json::parse(exp.out);
  int predictions = 0, admin_rows = 0;
  for (const auto& r : rows) {
    predictions += r["action"] == "predict";
    admin_rows += r["action"].get<std::string>().rfind("model.", 0) == 0;
  }
  EXPECT_EQ(predictions, 3 + (fs::exists(dcm) ? 1 : 0));  // refused requests are not predictions
  EXPECT_EQ(admin_rows, 2);
  EXPECT_EQ(exp.out.find(clin.substr(clin.rfind('_') + 1)), std::string::npos);  // never the secret
  if (fs::exists(dcm)) {
    const std::string dump = test::run_command("dcmdump " + test::quote(dcm)).out;
    const auto pn = dump.find("(0010,0010) PN [");
    if (pn != std::string::npos) {
      const std::string name = dump.substr(pn + 16, dump.find(']', pn) - pn - 16);
      EXPECT_EQ(exp.out.find(name), std::string::npos) << "patient name in the audit trail";
    }
  }
}

TEST(Server, ASegmenterAnswersWithAMaskOverlayAndADicomSeg) {
  MEDAI_REQUIRE_DATA("nuclei_dsb2018/index.csv");
  MEDAI_REQUIRE_DATA("dicom/MR_small.dcm");
  if (test::trained_run().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_TRUE(train_small_segmenter(dir.path(), dir / "models" / "nuclei"));
  fs::copy(test::trained_run(), dir / "models" / "cxr", fs::copy_options::recursive);
  const std::string clin = token(dir.path(), "clinician"), admin = token(dir.path(), "admin");
  Server s(dir.path());
  ASSERT_GT(s.port(), 0);

  // A PNG: JSON with the mask (0/255, the image's size) and the overlay as PNGs.
  const io::CsvTable index = io::read_csv(test::shared_data() / "nuclei_dsb2018" / "index.csv");
  const fs::path image = test::shared_data() / "nuclei_dsb2018" / index.rows[0][index.column("path")];
  auto r = s.call("POST", "/v1/models/nuclei/segment", clin, image.string(), "image/png");
  ASSERT_EQ(r.first, 200) << r.second;
  const json j = json::parse(r.second);
  for (const char* k : {"mask_png_base64", "overlay_png_base64", "foreground_fraction", "instances", "threshold"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["label"], "nucleus");
  const cv::Mat src = cv::imread(image.string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(j["width"], src.cols);
  EXPECT_EQ(j["height"], src.rows);
  EXPECT_EQ(j["model"]["name"], "nuclei");

  // A DICOM: format=dicom-seg answers the SEG, referencing the instance as sent.
  const fs::path mr = test::shared_data() / "dicom" / "MR_small.dcm";
  r = s.call("POST", "/v1/models/nuclei/segment?format=dicom-seg", clin, mr.string(), "application/dicom");
  ASSERT_EQ(r.first, 200) << r.second;
  test::write_text(dir / "answer_seg.dcm", r.second);
  const io::DicomSeg seg = io::read_dicom_seg(dir / "answer_seg.dcm");
  ASSERT_EQ(seg.frames.size(), 1u);
  EXPECT_EQ(seg.segments, std::vector<std::string>{"nucleus"});
  const std::string mr_dump = test::run_command("dcmdump +P SOPInstanceUID " + test::quote(mr)).out;
  EXPECT_NE(mr_dump.find(seg.frames[0].source_sop_instance_uid), std::string::npos);
  for (const auto& e : test::dciodvfy_errors(dir / "answer_seg.dcm")) ADD_FAILURE() << e;

  // The wrong route for each kind of model, a SEG for a PNG, an unknown format: 400, named.
  r = s.call("POST", "/v1/models/nuclei/predict", clin, image.string(), "image/png");
  EXPECT_EQ(r.first, 400);
  EXPECT_NE(r.second.find("/segment"), std::string::npos) << r.second;
  r = s.call("POST", "/v1/models/cxr/segment", clin, image.string(), "image/png");
  EXPECT_EQ(r.first, 400);
  EXPECT_NE(r.second.find("/predict"), std::string::npos) << r.second;
  r = s.call("POST", "/v1/models/nuclei/segment?format=dicom-seg", clin, image.string(), "image/png");
  EXPECT_EQ(r.first, 400);

  // The classifier beside it: the guard withholds the label of a CT slice and of a microscopy
  // image; ?prevalence= adjusts a film's probability and threshold.
  const fs::path ct = test::shared_data() / "dicom" / "CT_small.dcm";
  r = s.call("POST", "/v1/models/cxr/predict", clin, ct.string(), "application/dicom");
  ASSERT_EQ(r.first, 200) << r.second;
  json pj = json::parse(r.second);
  EXPECT_FALSE(pj["in_distribution"].get<bool>());
  EXPECT_TRUE(pj["label"].is_null());
  EXPECT_NE(pj["ood_reason"].get<std::string>().find("modality CT"), std::string::npos) << r.second;
  r = s.call("POST", "/v1/models/cxr/predict?explain=1", clin, image.string(), "image/png");
  ASSERT_EQ(r.first, 200) << r.second;
  EXPECT_FALSE(json::parse(r.second)["in_distribution"].get<bool>());
  const fs::path film = test::shared_data() / "chest_xray_pneumonia/train/NORMAL/IM-0115-0001.png";
  r = s.call("POST", "/v1/models/cxr/predict?prevalence=0.2", clin, film.string(), "image/png");
  ASSERT_EQ(r.first, 200) << r.second;
  pj = json::parse(r.second);
  EXPECT_EQ(pj["prevalence"], 0.2);
  EXPECT_TRUE(pj.contains("probability_at_calibration_prevalence"));
  EXPECT_EQ(s.call("POST", "/v1/models/cxr/predict?prevalence=2", clin, film.string(), "image/png").first, 400);
  EXPECT_EQ(s.call("POST", "/v1/models/nuclei/segment?format=nrrd", clin, image.string(), "image/png").first, 400);
  EXPECT_EQ(s.call("POST", "/v1/models/nuclei/segment", "", image.string(), "image/png").first, 401);
  // Audited, without the mask itself.
  auto audit = s.call("GET", "/v1/admin/audit", admin);
  ASSERT_EQ(audit.first, 200);
  EXPECT_NE(audit.second.find("\"segment\""), std::string::npos);
  EXPECT_EQ(audit.second.find("mask_png_base64"), std::string::npos);
}

TEST(Server, KillNineDuringABurstLosesNoAcknowledgedPredictionAndTheStoreStaysSound) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_TRUE(train_small_detector(dir / "models" / "cxr", 4));
  const std::string clin = token(dir.path(), "clinician");
  auto s = std::make_unique<Server>(dir.path());
  ASSERT_GT(s->port(), 0);
  const fs::path png = dir / "x.png";
  cv::imwrite(png.string(), test::quadrant_image(96, 2, 9) * 255);
  fs::create_directories(dir / "burst");
  // Four concurrent clients, 60 requests each, in the background.
  const std::string url = "http://127.0.0.1:" + std::to_string(s->port()) + "/v1/models/cxr/predict";
  std::string script;
  for (int c = 0; c < 4; ++c)
    script += "(for i in $(seq 1 60); do curl -s -m 20 -o " + test::quote(dir / "burst") + "/r" + std::to_string(c) +
              "_$i.json -w '%{http_code}' -H 'Authorization: Bearer " + clin +
              "' -H 'Content-Type: image/png' --data-binary @" + test::quote(png) + " " + url + " > " +
              test::quote(dir / "burst") + "/c" + std::to_string(c) + "_$i; done) & ";
  test::run_command("bash -c " + test::quote(script + "wait") + " > /dev/null 2>&1 & echo started");
  // Kill -9 once some predictions have been answered.
  for (int i = 0; i < 400; ++i) {
    int done = 0;
    for (const auto& e : fs::directory_iterator(dir / "burst")) done += e.path().filename().string()[0] == 'c';
    if (done >= 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  s->kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the clients' remaining calls fail fast
  int acknowledged = 0;
  for (const auto& e : fs::directory_iterator(dir / "burst"))
    if (e.path().filename().string()[0] == 'c' && test::read_text(e.path()) == "200") ++acknowledged;
  EXPECT_GT(acknowledged, 0);
  auto integrity = test::run_command("sqlite3 " + test::quote(dir / "medai.db") + " 'PRAGMA integrity_check'");
  EXPECT_EQ(integrity.out, "ok\n") << integrity.err;
  // Restarted, it serves again and its audit trail holds every acknowledged prediction.
  Server again(dir.path());
  EXPECT_EQ(again.call("GET", "/healthz").first, 200);
  auto rows = json::parse(test::run_medai("audit export --format json --db " + test::quote(dir / "medai.db")).out);
  int predictions = 0;
  for (const auto& r : rows) predictions += r["action"] == "predict";
  EXPECT_GE(predictions, acknowledged);
  EXPECT_LE(predictions, acknowledged + 4);  // at most one in flight per client when killed
}

TEST(Server, WebAppWorksInHeadlessChromium) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  const fs::path browser_dir = fs::path(MEDAI_SOURCE_DIR) / "tests" / "browser";
  if (!fs::exists("/usr/bin/chromium") || !fs::exists(browser_dir / "node_modules" / "playwright-core") ||
      test::run_command("node --version").exit_code != 0)
    GTEST_SKIP() << "chromium, node or playwright-core missing (scripts/install-deps installs them)";
  MEDAI_REQUIRE_DATA("nuclei_dsb2018/index.csv");
  test::TempDir dir;
  ASSERT_TRUE(train_small_detector(dir / "models" / "cxr", 5));
  ASSERT_TRUE(train_small_segmenter(dir.path(), dir / "models" / "nuclei"));
  const std::string clin = token(dir.path(), "clinician");
  Server s(dir.path(), train_text_models(dir.path()));
  ASSERT_GT(s.port(), 0);
  // A real film (a synthetic one would rightly be withheld by the guard), a blank image, a nuclei image.
  const fs::path png = test::shared_data() / "chest_xray_pneumonia/train/NORMAL/IM-0115-0001.png";
  const fs::path blank = dir / "blank.png";
  cv::imwrite(blank.string(), cv::Mat(128, 128, CV_8U, cv::Scalar(255)));
  const io::CsvTable nuclei = io::read_csv(test::shared_data() / "nuclei_dsb2018" / "index.csv");
  const fs::path cells = test::shared_data() / "nuclei_dsb2018" / nuclei.rows[0][nuclei.column("path")];
  std::string hist = "timestamp,cgm_mgdl,insulin_u,carbs_g\n";
  for (int i = 0; i < 36; ++i) {
    char row[80];
    std::snprintf(row, sizeof row, "2026-03-01 %02d:%02d:00,%d,%s,\n", 6 + i * 5 / 60, i * 5 % 60, 150 + (i % 12) * 3,
                  i == 10 ? "2" : "");
    hist += row;
  }
  test::write_text(dir / "history.csv", hist);
  const fs::path artifacts = fs::path(MEDAI_BINARY_DIR) / "test-artifacts";
  fs::create_directories(artifacts);
  auto r = test::run_command("node " + test::quote(browser_dir / "ui_test.mjs") +
                             " http://127.0.0.1:" + std::to_string(s.port()) + "/ " + clin + " " + test::quote(png) +
                             " " + test::quote(dir / "history.csv") + " " + test::quote(artifacts) + " " +
                             test::quote(blank) + " nuclei " + test::quote(cells) + " 1");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(fs::file_size(artifacts / "ui-segmentation.png"), 10000u);
  EXPECT_GT(fs::file_size(artifacts / "ui-xray.png"), 10000u);
  EXPECT_GT(fs::file_size(artifacts / "ui-diabetes.png"), 10000u);
  EXPECT_GT(fs::file_size(artifacts / "ui-ask.png"), 10000u);
  EXPECT_GT(fs::file_size(artifacts / "ui-scribe.png"), 10000u);
}

TEST(Server, AFullQueueAnswers503WithRetryAfterAndTlsServesHttps) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_TRUE(train_small_detector(dir / "models" / "cxr" / "2", 6));
  const std::string clin = token(dir.path(), "clinician");
  const fs::path d1 = test::shared_data() / "cgm" / "d1namo";
  const bool with_forecaster = fs::exists(d1);
  if (with_forecaster) {  // a (tiny) forecaster in the repository serves /v1/glucose/recommend
    auto f =
        test::run_medai("glucose train-forecaster --data " + test::quote(d1) + " --out " +
                        test::quote(dir / "models" / "forecaster") + " --epochs 1 --hidden 8 --layers 1 --ensemble 1");
    ASSERT_EQ(f.exit_code, 0) << f.err;
  }
  {
    Server s(dir.path(), "--queue 1 --max-batch 32 --max-delay-ms 1500");
    ASSERT_GT(s.port(), 0);
    const fs::path png = dir / "x.png";
    cv::imwrite(png.string(), test::quadrant_image(96, 3, 2) * 255);
    std::string script;
    for (int c = 0; c < 6; ++c)
      script += "curl -s -o /dev/null -D " + test::quote(dir / ("h" + std::to_string(c))) +
                " -w '%{http_code}\\n' -H 'Authorization: Bearer " + clin +
                "' -H 'Content-Type: image/png' --data-binary @" + test::quote(png) +
                " http://127.0.0.1:" + std::to_string(s.port()) + "/v1/models/cxr/predict & ";
    auto r = test::run_command("bash -c " + test::quote(script + "wait"));
    EXPECT_NE(r.out.find("200"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("503"), std::string::npos) << r.out;
    bool retry_after = false;
    for (int c = 0; c < 6; ++c)
      retry_after |= test::read_text(dir / ("h" + std::to_string(c))).find("Retry-After: 1") != std::string::npos;
    EXPECT_TRUE(retry_after);
    // Version "2" is the default (highest); an unknown version is a 404.
    auto models = json::parse(s.call("GET", "/v1/models", clin).second);
    EXPECT_EQ(models[0]["name"], "cxr");
    EXPECT_EQ(models[0]["default_version"], "2");
    EXPECT_EQ(s.call("GET", "/v1/models/cxr?version=9", clin).first, 404);
    // Simulation over HTTP.
    test::write_text(dir / "sim.json",
                     "{\"minutes\": 600, \"scenario\": \"07:00 45\", \"controller\": \"basal-bolus\"}");
    auto sim = s.call("POST", "/v1/glucose/simulate", clin, (dir / "sim.json").string(), "application/json");
    ASSERT_EQ(sim.first, 200) << sim.second;
    EXPECT_EQ(json::parse(sim.second)["bg_mgdl"].size(), 600u);
    if (with_forecaster) {  // 2.5 h of readings: the LSTM forecasts
      std::string hist = "{\"history\": \"timestamp,cgm_mgdl\\n";
      for (int i = 0; i < 30; ++i) {
        char row[48];
        std::snprintf(row, sizeof row, "2026-01-01 %02d:%02d:00,%d\\n", 6 + i * 5 / 60, i * 5 % 60, 140 + i);
        hist += row;
      }
      hist += "\", \"settings\": {\"basal_u_per_h\": 1, \"cr\": 10, \"cf\": 40, \"tdi\": 40}}";
      test::write_text(dir / "rec.json", hist);
      auto rec = s.call("POST", "/v1/glucose/recommend", clin, (dir / "rec.json").string(), "application/json");
      ASSERT_EQ(rec.first, 200) << rec.second;
      EXPECT_EQ(json::parse(rec.second)["forecast_method"], "lstm");
    }
  }
  if (test::run_command("openssl version").exit_code != 0) GTEST_SKIP() << "openssl missing: TLS not tested";
  auto cert = test::run_command("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " +
                                test::quote(dir / "key.pem") + " -out " + test::quote(dir / "cert.pem") + " 2>&1");
  ASSERT_EQ(cert.exit_code, 0) << cert.out;
  Server tls(dir.path(), "--tls-cert " + test::quote(dir / "cert.pem") + " --tls-key " + test::quote(dir / "key.pem"));
  ASSERT_GT(tls.port(), 0);
  auto r = test::run_command("curl -s -k https://127.0.0.1:" + std::to_string(tls.port()) + "/healthz");
  EXPECT_NE(r.out.find("\"ok\""), std::string::npos) << r.out << r.err;
  auto plain = test::run_command("curl -s -m 5 http://127.0.0.1:" + std::to_string(tls.port()) + "/healthz");
  EXPECT_EQ(plain.out.find("\"ok\""), std::string::npos);
}

TEST(Server, IdleAndSlowConnectionsDoNotStarveAPrediction) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  ASSERT_TRUE(train_small_detector(dir / "models" / "cxr", 7));
  const std::string clin = token(dir.path(), "clinician");
  Server s(dir.path());
  ASSERT_GT(s.port(), 0);
  const fs::path png = dir / "x.png";
  cv::imwrite(png.string(), test::quadrant_image(96, 1, 4) * 255);
  // 64 connections that send nothing and 16 that send one byte a second, for 12 s.
  test::write_text(dir / "hold.py",
                   "import socket, sys, time\n"
                   "port = int(sys.argv[1]); idle = []; slow = []\n"
                   "for i in range(64): idle.append(socket.create_connection(('127.0.0.1', port)))\n"
                   "for i in range(16):\n"
                   "  c = socket.create_connection(('127.0.0.1', port)); c.send(b'P'); slow.append(c)\n"
                   "open(sys.argv[2], 'w').write('open')\n"
                   "end = time.time() + 20\n"
                   "while time.time() < end:\n"
                   "  for c in slow:\n"
                   "    try: c.send(b'O')\n"
                   "    except OSError: pass\n"
                   "  time.sleep(1)\n");
  test::run_command(test::python() + " " + test::quote(dir / "hold.py") + " " + std::to_string(s.port()) + " " +
                    test::quote(dir / "opened") + " > /dev/null 2>&1 &");
  for (int i = 0; i < 400 && !fs::exists(dir / "opened"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(dir / "opened"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (int k = 0; k < 3; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = s.call("POST", "/v1/models/cxr/predict", clin, png.string(), "image/png");
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.first, 200) << r.second;
    EXPECT_LT(sec, 2.0) << "a prediction waited behind idle connections";
  }
}

// Keep-alive requests must not wait for the client's delayed ACK (Nagle: ~40 ms each) nor lose
// their connection every 5 requests (httplib's default), and a
// burst of new connections must not overflow the accept queue (a dropped SYN costs its client a
// one-second retry). Both were so before the bridge set TCP_NODELAY and a full listen backlog.
TEST(Server, KeepAliveRequestsAndABurstOfNewConnectionsAreAnsweredPromptly) {
  test::TempDir dir;
  fs::create_directories(dir / "models");
  Server s(dir.path());
  ASSERT_GT(s.port(), 0);
  test::write_text(
      dir / "conn.py",
      "import socket, sys, threading, time\n"
      "port = int(sys.argv[1])\n"
      "req = b'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'\n"
      "c = socket.create_connection(('127.0.0.1', port)); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
      "t0 = time.time()\n"
      "for i in range(50):\n"
      "  c.sendall(req); got = b''\n"
      "  while not got.endswith(b'}'):\n"
      "    more = c.recv(4096)\n"
      "    if not more: sys.exit('the server closed a keep-alive connection after %d requests' % i)\n"
      "    got += more\n"
      "keep = time.time() - t0\n"
      "times = []; go = threading.Barrier(128)\n"
      "def one():\n"
      "  go.wait(); t = time.time(); k = socket.create_connection(('127.0.0.1', port))\n"
      "  k.sendall(b'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'); k.recv(4096)\n"
      "  times.append(time.time() - t); k.close()\n"
      "ts = [threading.Thread(target=one) for _ in range(128)]\n"
      "[t.start() for t in ts]; [t.join() for t in ts]\n"
      "print(keep, max(times))\n");
  auto r = test::run_command(test::python() + " " + test::quote(dir / "conn.py") + " " + std::to_string(s.port()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  double keep = 0, burst = 0;
  std::istringstream(r.out) >> keep >> burst;
  EXPECT_LT(keep, 1.0) << "50 keep-alive requests took " << keep << " s (delayed ACKs?)";
  EXPECT_LT(burst, 0.9) << "a connection of a burst of 128 took " << burst << " s (accept queue overflow?)";
}
