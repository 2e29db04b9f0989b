#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "e2e_support.h"
#include "medai/io/csv.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace medai;

namespace medai::test {

fs::path subset_dir() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    made = true;
    fs::path root = shared_data() / "chest_xray_pneumonia";
    if (!fs::exists(root / "index.csv")) return {};
    io::CsvTable t = io::read_csv(root / "index.csv");
    std::string csv = "path,label,patient_id\n";
    int n[2] = {0, 0};
    // Every 20th image of each class: 60 + 60 spread across the folder.
    for (size_t r = 0; r < t.rows.size(); ++r) {
      int label = t.rows[r][t.column("label")] == "PNEUMONIA";
      if (r % 20 != 0 && n[label] < 60) continue;
      if (n[label] >= 60) continue;
      ++n[label];
      csv += (fs::absolute(root) / t.rows[r][t.column("path")]).string() + "," + t.rows[r][t.column("label")] + "," +
             t.rows[r][t.column("patient_id")] + "\n";
    }
    write_text(dir / "subset.csv", csv);
  }
  return fs::exists(dir / "subset.csv") ? dir.path() : fs::path();
}

std::string small_train_flags() { return "--size 64 --epochs 2 --batch 16 --seed 3 --val-fraction 0.25"; }

fs::path trained_run() {
  static TempDir dir;
  static bool done = false;
  if (!done) {
    done = true;
    if (subset_dir().empty()) return {};
    auto r = run_medai("image train --data " + quote(subset_dir() / "subset.csv") + " --out " + quote(dir / "run") +
                       " " + small_train_flags());
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return fs::exists(dir / "run" / "model_card.json") ? dir / "run" : fs::path();
}

}  // namespace medai::test

#define REQUIRE_RUN()                 \
  fs::path run = test::trained_run(); \
  if (run.empty()) GTEST_SKIP() << "shared chest X-ray data missing: " << test::shared_data()

TEST(ImageCli, TrainWritesACompleteRunFolder) {
  REQUIRE_RUN();
  for (const char* f :
       {"model.pt", "model_card.json", "curves.csv", "curves.png", "roc.png", "reliability.png", "split.csv"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  json card = json::parse(test::read_text(run / "model_card.json"));
  EXPECT_EQ(card["architecture"], "resnet18");
  EXPECT_EQ(card["classes"], json({"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(card["preprocessing"]["size"], 64);
  EXPECT_EQ(card["data"]["fingerprint_sha256"].get<std::string>().size(), 64u);
  EXPECT_GT(card["calibration"]["temperature"].get<double>(), 0.0);
  EXPECT_TRUE(card["operating_point"]["threshold"].is_number());
  EXPECT_TRUE(card["metrics"]["validation"]["auroc_ci95"].is_array());
  EXPECT_FALSE(card["limitations"].empty());
  EXPECT_FALSE(card["intended_use"].get<std::string>().empty());
  EXPECT_EQ(card["split"]["method"], "stratified by label, grouped by patient");
  // No patient is on both sides of the split.
  io::CsvTable split = io::read_csv(run / "split.csv");
  std::map<std::string, std::string> side;
  for (const auto& row : split.rows) {
    auto [it, fresh] = side.emplace(row[2], row[3]);
    EXPECT_EQ(it->second, row[3]) << "patient " << row[2] << " on both sides";
  }
  EXPECT_EQ(io::read_csv(run / "curves.csv").rows.size(), 2u);
  // The card says how the validation films score under each simulated acquisition change.
  const json& rob = card["robustness"]["perturbations"];
  ASSERT_EQ(rob.size(), 11u);
  EXPECT_EQ(rob[0]["name"], "none");
  EXPECT_NEAR(rob[0]["accuracy"].get<double>(), card["metrics"]["validation"]["accuracy"].get<double>(), 1e-9);
}

TEST(ImageCli, EvaluatePrintsTheRequiredJsonKeys) {
  REQUIRE_RUN();
  auto r = test::run_medai("image evaluate --model " + test::quote(run) + " --data " +
                           test::quote(test::subset_dir() / "subset.csv") + " --json --bootstrap 200");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* k : {"auroc", "accuracy", "sensitivity", "specificity", "n", "ppv", "npv", "f1", "brier", "ece",
                        "confusion_matrix", "auroc_ci95"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["n"], 120);
  auto cm = j["confusion_matrix"];
  EXPECT_EQ(cm["tp"].get<int>() + cm["fp"].get<int>() + cm["tn"].get<int>() + cm["fn"].get<int>(), 120);
  EXPECT_NEAR(j["accuracy"].get<double>(), (cm["tp"].get<double>() + cm["tn"].get<double>()) / 120.0, 1e-12);
  // Re-scoring the run's own validation rows reproduces the card's validation metrics: train-time
  // and evaluate-time pipelines agree (preprocessing, calibration, threshold).
  auto val = test::run_medai("image evaluate --model " + test::quote(run) + " --data " +
                             test::quote(run / "split.csv") + " --split validation --json --bootstrap 100");
  ASSERT_EQ(val.exit_code, 0) << val.err;
  json card = json::parse(test::read_text(run / "model_card.json"));
  json jv = json::parse(val.out);
  EXPECT_EQ(jv["n"], card["metrics"]["validation"]["n"]);
  EXPECT_NEAR(jv["auroc"].get<double>(), card["metrics"]["validation"]["auroc"].get<double>(), 1e-6);
  EXPECT_NEAR(jv["brier"].get<double>(), card["metrics"]["validation"]["brier"].get<double>(), 1e-6);
  EXPECT_EQ(jv["confusion_matrix"], card["metrics"]["validation"]["confusion_matrix"]);
  auto table = test::run_medai("image evaluate --model " + test::quote(run) + " --data " +
                               test::quote(test::subset_dir() / "subset.csv") + " --bootstrap 100");
  EXPECT_NE(table.out.find("AUROC"), std::string::npos);
}

TEST(ImageCli, PredictReadsPngDicomAndNifti) {
  REQUIRE_RUN();
  fs::path png = test::shared_data() / "chest_xray_pneumonia/train/PNEUMONIA/person1000_bacteria_2931.png";
  fs::path dcm = test::shared_data() / "dicom/RG1_J2KI.dcm";
  fs::path nii = test::shared_data() / "nifti/example4d.nii.gz";
  auto r = test::run_medai("image predict --json --model " + test::quote(run) + " " + test::quote(png) + " " +
                           test::quote(dcm) + " " + test::quote(nii));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  for (const auto& p : j) {
    double prob = p["probability"];
    EXPECT_GE(prob, 0.0);
    EXPECT_LE(prob, 1.0);
    if (p["in_distribution"].get<bool>())  // else the guard withheld the label (next test)
      EXPECT_EQ(p["label"], prob >= p["threshold"].get<double>() ? "PNEUMONIA" : "NORMAL");
    else EXPECT_TRUE(p["label"].is_null() && !p["ood_reason"].get<std::string>().empty()) << p.dump();
  }
  EXPECT_TRUE(j[0]["in_distribution"].get<bool>()) << j[0].dump();  // a training film
}

TEST(ImageCli, TheGuardFlagsWhatTheModelWasNotTrainedOnAndPassesItsValidationFilms) {
  REQUIRE_RUN();
  json card = json::parse(test::read_text(run / "model_card.json"));
  ASSERT_TRUE(card.contains("ood_guard"));
  EXPECT_TRUE(fs::exists(run / "ood_guard.pt"));
  EXPECT_GE(card["ood_guard"]["validation"]["acceptance"].get<double>(), 0.95);
  EXPECT_EQ(card["ood_guard"]["expected"]["modalities"], json({"CR", "DX"}));
  test::TempDir dir;
  // Blank, noise, a colour microscopy image, CT and MR slices.
  cv::imwrite((dir / "blank.png").string(), cv::Mat(96, 96, CV_8U, cv::Scalar(128)));
  cv::Mat noise(96, 96, CV_8U);
  cv::randu(noise, 0, 256);
  cv::imwrite((dir / "noise.png").string(), noise);
  const io::CsvTable nuclei = io::read_csv(test::shared_data() / "nuclei_dsb2018" / "index.csv");
  fs::path colour;
  for (const auto& row : nuclei.rows)
    if (row[nuclei.column("modality")] == "brightfield_color") colour = test::shared_data() / "nuclei_dsb2018" / row[0];
  const fs::path ct = test::shared_data() / "dicom" / "CT_small.dcm",
                 mr = test::shared_data() / "dicom" / "MR_small.dcm";
  auto r = test::run_medai("image predict --json --model " + test::quote(run) + " " + test::quote(dir / "blank.png") +
                           " " + test::quote(colour) + " " + test::quote(ct) + " " + test::quote(mr));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 4u);
  const char* why[] = {"blank", "colour", "modality CT", "modality MR"};
  for (size_t i = 0; i < j.size(); ++i) {
    EXPECT_FALSE(j[i]["in_distribution"].get<bool>()) << j[i].dump();
    EXPECT_TRUE(j[i]["label"].is_null()) << j[i].dump();
    EXPECT_NE(j[i]["ood_reason"].get<std::string>().find(why[i]), std::string::npos) << j[i].dump();
    EXPECT_NE(j[i]["warning"].get<std::string>().find("withheld"), std::string::npos);
  }
  // Text output says so; explain too.
  r = test::run_medai("image predict --model " + test::quote(run) + " " + test::quote(ct));
  EXPECT_NE(r.out.find("withheld (out of distribution: DICOM modality CT"), std::string::npos) << r.out;
  r = test::run_medai("image explain --json --model " + test::quote(run) + " " + test::quote(ct) + " --out " +
                      test::quote(dir / "cam.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(json::parse(r.out)["in_distribution"].get<bool>());
  // Most validation films pass (the threshold lets 99% of them through; a 2-epoch 64 px model).
  const io::CsvTable split = io::read_csv(run / "split.csv");
  std::string files;
  for (const auto& row : split.rows)
    if (row[3] == "validation") files += " " + test::quote(row[0]);
  r = test::run_medai("image predict --json --model " + test::quote(run) + files);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int passed = 0, n = 0;
  for (const auto& p : json::parse(r.out)) passed += p["in_distribution"].get<bool>(), ++n;
  EXPECT_GE(passed, 0.95 * n) << passed << " of " << n;
  // Refitting the guard (another acceptance, an age range) rewrites the card; bad options are refused.
  test::TempDir copy;
  fs::copy(run, copy / "run", fs::copy_options::recursive);
  r = test::run_medai("image fit-guard --model " + test::quote(copy / "run") +
                      " --guard-acceptance 0.97 --expect-age 0-16 --expect-modality any --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json g = json::parse(r.out);
  EXPECT_EQ(g["expected"]["modalities"], json::array());
  EXPECT_EQ(g["expected"]["age_years"], json({0.0, 16.0}));
  EXPECT_NE(g["threshold_rule"].get<std::string>().find("0.97"), std::string::npos);
  r = test::run_medai("image fit-guard --model " + test::quote(copy / "run") + " --expect-age old");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_medai("image fit-guard --model " + test::quote(copy / "run") + " --guard-acceptance 1.5");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(ImageCli, APrevalenceMovesProbabilityAndThresholdTogetherAndEvaluateSimulatesShift) {
  REQUIRE_RUN();
  const json card = json::parse(test::read_text(run / "model_card.json"));
  const double at = card["calibration"]["prevalence"].get<double>();
  EXPECT_GT(at, 0.0);
  EXPECT_LT(at, 1.0);
  ASSERT_TRUE(card["operating_point"]["threshold_ci95"].is_array());
  const fs::path png = test::shared_data() / "chest_xray_pneumonia/train/PNEUMONIA/person1000_bacteria_2931.png";
  auto a = test::run_medai("image predict --json --model " + test::quote(run) + " " + test::quote(png));
  auto b =
      test::run_medai("image predict --json --prevalence 0.1 --model " + test::quote(run) + " " + test::quote(png));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const json pa = json::parse(a.out)[0], pb = json::parse(b.out)[0];
  EXPECT_EQ(pa["label"], pb["label"]);
  EXPECT_NEAR(pb["probability_at_calibration_prevalence"].get<double>(), pa["probability"].get<double>(), 1e-12);
  if (at > 0.1) {
    EXPECT_LT(pb["probability"].get<double>(), pa["probability"].get<double>());
  }
  EXPECT_EQ(pb["prevalence"], 0.1);
  EXPECT_NE(
      test::run_medai("image predict --prevalence 1.5 --model " + test::quote(run) + " " + test::quote(png)).exit_code,
      0);
  // Class mixes and subgroups: a CSV with a group column.
  test::TempDir dir;
  const io::CsvTable subset = io::read_csv(test::subset_dir() / "subset.csv");
  std::string csv = "path,label,patient_id,half\n";
  for (size_t r = 0; r < subset.rows.size(); ++r)
    csv +=
        subset.rows[r][0] + "," + subset.rows[r][1] + "," + subset.rows[r][2] + "," + (r % 2 ? "odd" : "even") + "\n";
  test::write_text(dir / "grouped.csv", csv);
  auto e = test::run_medai("image evaluate --json --bootstrap 100 --model " + test::quote(run) + " --data " +
                           test::quote(dir / "grouped.csv") + " --class-mix 0.2,0.5,0.8 --group-col half");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const json j = json::parse(e.out);
  ASSERT_EQ(j["class_mix"].size(), 3u);
  EXPECT_EQ(j["guard"]["images"], 120);
  EXPECT_GE(j["guard"]["acceptance"].get<double>(), 0.9);
  for (const char* k : {"prevalence", "accuracy", "sensitivity", "specificity", "ppv", "npv", "ece", "ece_adjusted"})
    EXPECT_TRUE(j["class_mix"][0].contains(k)) << k;
  EXPECT_EQ(j["by_group"]["odd"]["n"].get<int>() + j["by_group"]["even"]["n"].get<int>(), 120);
  EXPECT_EQ(j["subgroup_audit"]["column"], "half");  // the shared audit (metrics/subgroup.h)
  EXPECT_EQ(j["subgroup_audit"]["groups"].size(), 2u);
  EXPECT_TRUE(j["subgroup_audit"].contains("equalised_odds_gap"));
  // Simulated acquisition changes, with test-time augmentation: one row per change after "none".
  e = test::run_medai("image evaluate --json --bootstrap 100 --tta 2 --perturb blur,zoom-in --model " +
                      test::quote(run) + " --data " + test::quote(dir / "grouped.csv") + " --scores " +
                      test::quote(dir / "scores.csv"));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const json pj = json::parse(e.out);
  ASSERT_EQ(pj["perturbations"].size(), 3u);
  EXPECT_EQ(pj["perturbations"][0]["name"], "none");
  EXPECT_EQ(pj["perturbations"][2]["name"], "zoom-in");
  EXPECT_NEAR(pj["perturbations"][0]["accuracy"].get<double>(), pj["accuracy"].get<double>(), 1e-12);
  for (const char* k : {"auroc", "accuracy", "sensitivity", "specificity", "brier", "ece", "guard_acceptance"})
    EXPECT_TRUE(pj["perturbations"][1].contains(k)) << k;
  EXPECT_EQ(pj["tta"]["views"], 2);
  const io::CsvTable scores = io::read_csv(dir / "scores.csv");
  EXPECT_EQ(scores.header,
            (std::vector<std::string>{"path", "label", "probability", "probability_blur", "probability_zoom-in"}));
  EXPECT_EQ(scores.rows.size(), 120u);
  for (const char* bad : {" --perturb rotate", " --tta 9"}) {
    e = test::run_medai("image evaluate --model " + test::quote(run) + " --data " + test::quote(dir / "grouped.csv") +
                        bad);
    EXPECT_EQ(e.exit_code, 2) << bad << e.err;
  }
  e = test::run_medai("image evaluate --model " + test::quote(run) + " --data " + test::quote(dir / "grouped.csv") +
                      " --group-col nosuch");
  EXPECT_EQ(e.exit_code, 2) << e.err;
  EXPECT_NE(e.err.find("nosuch"), std::string::npos) << e.err;
}

TEST(ImageCli, ExplainWritesAHeatmapOverlayOfTheImageSize) {
  REQUIRE_RUN();
  test::TempDir out;
  fs::path png = test::shared_data() / "chest_xray_pneumonia/train/NORMAL/IM-0115-0001.png";
  auto r = test::run_medai("image explain --model " + test::quote(run) + " " + test::quote(png) + " --out " +
                           test::quote(out / "heat.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  cv::Mat m = cv::imread((out / "heat.png").string(), cv::IMREAD_UNCHANGED);
  auto j = test::run_medai("image explain --json --model " + test::quote(run) + " " + test::quote(png) + " --out " +
                           test::quote(out / "heat2.png"));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out)["explained_class"], "PNEUMONIA");
  EXPECT_EQ(m.rows, 128);
  EXPECT_EQ(m.cols, 128);
  EXPECT_EQ(m.channels(), 3);
}

TEST(ImageCli, TrainsWithoutTheDecodedCacheAndWithEachRegulariser) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  auto r = test::run_medai("image train --no-cache --data " + test::quote(test::subset_dir() / "subset.csv") +
                           " --out " + test::quote(dir / "run") +
                           " --size 64 --epochs 1 --batch 16 --seed 9 --split-seed 3 --val-fraction 0.25 --mixup 0.4"
                           " --ema 0.99"
                           " --label-smoothing 0.05 --augment-strength 1.5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json card = json::parse(test::read_text(dir / "run" / "model_card.json"));
  EXPECT_EQ(card["metrics"]["validation"]["n"].get<int>(), card["split"]["validation_images"].get<int>());
  EXPECT_EQ(card["training"]["mixup"], 0.4);
  EXPECT_EQ(card["training"]["seed"], 9);
  EXPECT_EQ(card["split"]["seed"], 3);
  // --split-seed 3 gives the validation split of the seed-3 run, whatever --seed says
  if (!test::trained_run().empty()) {
    auto validation = [](const fs::path& csv) {
      std::set<std::string> v;
      for (const auto& row : io::read_csv(csv).rows)
        if (row[3] == "validation") v.insert(row[0]);
      return v;
    };
    EXPECT_EQ(validation(dir / "run" / "split.csv"), validation(test::trained_run() / "split.csv"));
  }
  EXPECT_EQ(card["training"]["ema"], 0.99);
  EXPECT_NE(card["training_run"]["loss"].get<std::string>().find("label smoothing 0.05"), std::string::npos);
  for (const char* bad : {" --mixup -1", " --ema 0.5", " --label-smoothing 0.6", " --augment-strength 9"}) {
    auto b = test::run_medai("image train --data " + test::quote(test::subset_dir() / "subset.csv") + " --out " +
                             test::quote(dir / "bad") + bad);
    EXPECT_EQ(b.exit_code, 2) << bad << b.err;
    EXPECT_FALSE(fs::exists(dir / "bad" / "model_card.json"));
  }
}

TEST(ImageCli, ResumeAfterKillNineFinishesWithTheSameResultAsAnUninterruptedRun) {
  if (test::subset_dir().empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  const std::string data = test::quote(test::subset_dir() / "subset.csv");
  // With mixup and the weights' moving average: both must pick up where they stopped.
  const std::string common = "image train --data " + data +
                             " --size 64 --epochs 3 --batch 16 --seed 5 --val-fraction 0.25 --mixup 0.2 --ema 0.99";
  auto full = test::run_medai(common + " --out " + test::quote(dir / "full"));
  ASSERT_EQ(full.exit_code, 0) << full.err;

  // The same run, killed with -9 once the first epoch is checkpointed (into epoch 2).
  ASSERT_TRUE(test::run_medai_and_kill_after(common + " --out " + test::quote(dir / "cut"),
                                             dir / "cut" / "train_state.json", 300));
  EXPECT_FALSE(fs::exists(dir / "cut" / "model_card.json")) << "the run finished before it could be interrupted";

  auto resumed = test::run_medai("image train --data " + data + " --out " + test::quote(dir / "cut") + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  json a = json::parse(test::read_text(dir / "full" / "model_card.json"));
  json b = json::parse(test::read_text(dir / "cut" / "model_card.json"));
  EXPECT_EQ(b["training_run"]["epochs_run"], 3);
  EXPECT_NEAR(a["metrics"]["validation"]["auroc"].get<double>(), b["metrics"]["validation"]["auroc"].get<double>(),
              1e-6);
  EXPECT_NEAR(a["calibration"]["temperature"].get<double>(), b["calibration"]["temperature"].get<double>(), 1e-4);
  io::CsvTable ca = io::read_csv(dir / "full" / "curves.csv"), cb = io::read_csv(dir / "cut" / "curves.csv");
  ASSERT_EQ(ca.rows.size(), cb.rows.size());
  for (size_t i = 0; i < ca.rows.size(); ++i)
    for (size_t c = 0; c < 4; ++c)  // epoch, train loss, val loss, val AUROC (not the seconds)
      EXPECT_NEAR(std::stod(ca.rows[i][c]), std::stod(cb.rows[i][c]), 1e-5) << "epoch " << i + 1 << " column " << c;
  // Running again without --resume refuses to overwrite.
  auto again = test::run_medai(common + " --out " + test::quote(dir / "cut"));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
}
