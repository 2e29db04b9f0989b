// medai gan train | sample | evaluate and image train --synthetic on the 120-image Kermany subset.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e_support.h"
#include "medai/io/csv.h"

namespace medai {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kTinyGan = " --conditional --epochs 2 --max-batches 3 --batch 16 --width 8 --z-dim 16 --feature-epochs 0";

TEST(GanCli, TrainsSamplesMarkedSyntheticAndAuditsFidelityAndMemorisation) {
  const fs::path features = test::trained_run();
  if (features.empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  const std::string data = test::quote(test::subset_dir() / "subset.csv");
  auto r = test::run_medai("gan train --data " + data + " --out " + test::quote(dir / "gan") + kTinyGan + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json card = json::parse(r.out);
  EXPECT_EQ(card["kind"], "generator");
  EXPECT_EQ(card["task"], "image-generation");
  EXPECT_EQ(card["gan"]["class_names"], json({"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(card["gan"]["size"], 64);
  for (const char* f : {"generator.pt", "curves.csv", "curves.png", "samples/epoch-001.png", "samples/epoch-002.png",
                        "samples/latest.png", "training_images.csv"})
    EXPECT_TRUE(fs::exists(dir / "gan" / f)) << f;
  EXPECT_EQ(io::read_csv(dir / "gan" / "training_images.csv").rows.size(), 120u);

  // Samples: names and PNG text chunks say SYNTHETIC and name the model; a second call adds files.
  for (int k = 0; k < 2; ++k) {
    r = test::run_medai("gan sample --model " + test::quote(dir / "gan") + " --n 3 --class PNEUMONIA --out " +
                        test::quote(dir / "samples") + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "samples")) {
    ++files;
    EXPECT_EQ(e.path().filename().string().rfind("SYNTHETIC_gan_PNEUMONIA_", 0), 0u) << e.path();
    const std::string bytes = test::read_text(e.path());
    EXPECT_NE(bytes.find(std::string("tEXtTitle\0SYNTHETIC", 19)), std::string::npos);
    EXPECT_NE(bytes.find("medai gan model gan"), std::string::npos);
  }
  EXPECT_EQ(files, 6);

  r = test::run_medai("gan evaluate --model " + test::quote(dir / "gan") + " --data " + data + " --features " +
                      test::quote(features) + " --pairs 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json ev = json::parse(r.out);
  for (const char* k : {"frechet", "frechet_real_vs_real", "kid", "precision", "recall", "memorised_share"})
    ASSERT_TRUE(ev.contains(k) && ev[k].is_number()) << k;
  EXPECT_GT(ev["frechet"].get<double>(), 0.0);
  EXPECT_GE(ev["memorised_share"].get<double>(), 0.0);
  EXPECT_LE(ev["memorised_share"].get<double>(), 1.0);
  EXPECT_EQ(ev["memorisation"]["reference"].get<std::string>().rfind("training images", 0), 0u);
  EXPECT_EQ(ev["n_generated"].get<int>(), ev["n_real_a"].get<int>());
  EXPECT_EQ(ev["memorisation"]["closest_pairs"].size(), 3u);
  EXPECT_TRUE(fs::exists(dir / "gan" / "evaluation" / "nearest_training.csv"));
  EXPECT_NE(ev["features"]["note"].get<std::string>().find("not Inception-FID"), std::string::npos);

  // Synthetic images join training only; validation stays real.
  r = test::run_medai("image train --data " + data + " --out " + test::quote(dir / "syn") +
                      " --size 64 --epochs 1 --batch 16 --seed 3 --val-fraction 0.25 --synthetic " +
                      test::quote(dir / "gan") + " --synthetic-ratio 0.5 --train-fraction 0.5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json syn = json::parse(r.out);
  EXPECT_GT(syn["data"]["synthetic"]["images"].get<int>(), 0);
  EXPECT_EQ(syn["split"]["train_fraction"], 0.5);
  const io::CsvTable split = io::read_csv(dir / "syn" / "split.csv");
  int synthetic_rows = 0;
  for (const auto& row : split.rows)
    if (row[split.column("path")].find("SYNTHETIC_") != std::string::npos) {
      ++synthetic_rows;
      EXPECT_EQ(row[split.column("split")], "train");
    }
  EXPECT_EQ(synthetic_rows, syn["data"]["synthetic"]["images"].get<int>());
}

TEST(GanCli, RefusesBadInputWithClearErrors) {
  const fs::path classifier = test::trained_run();
  if (classifier.empty()) GTEST_SKIP() << "shared chest X-ray data missing";
  test::TempDir dir;
  const std::string data = test::quote(test::subset_dir() / "subset.csv");
  auto r = test::run_medai("gan train --data " + data + " --out " + test::quote(dir / "a") + " --size 96");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("64 or 128"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "a" / "model_card.json"));

  // One class folder for a conditional model.
  const io::CsvTable t = io::read_csv(test::subset_dir() / "subset.csv");
  fs::create_directories(dir / "one" / "NORMAL");
  int copied = 0;
  for (const auto& row : t.rows)
    if (row[t.column("label")] == "NORMAL" && copied < 20) {
      const fs::path src = row[t.column("path")];
      fs::copy_file(src, dir / "one" / "NORMAL" / src.filename());
      ++copied;
    }
  r = test::run_medai("gan train --data " + test::quote(dir / "one") + " --out " + test::quote(dir / "b") +
                      " --conditional --feature-epochs 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--conditional needs at least two classes"), std::string::npos) << r.err;

  // An unconditional GAN on that one class trains, but cannot label synthetic training images,
  // and is not a classifier.
  r = test::run_medai("gan train --data " + test::quote(dir / "one") + " --out " + test::quote(dir / "u") +
                      " --epochs 1 --max-batches 1 --batch 8 --width 8 --z-dim 16 --feature-epochs 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_medai("image train --data " + data + " --out " + test::quote(dir / "c") + " " +
                      test::small_train_flags() + " --synthetic " + test::quote(dir / "u"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unconditional"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "c"));
  r = test::run_medai("image predict --model " + test::quote(dir / "u") + " " + test::quote(t.rows[0][0]));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not an image classifier"), std::string::npos) << r.err;
  // A classifier run where a GAN is expected; a GAN without a feature network.
  r = test::run_medai("gan sample --model " + test::quote(classifier) + " --n 2 --out " + test::quote(dir / "s"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not an image GAN"), std::string::npos) << r.err;
  r = test::run_medai("gan evaluate --model " + test::quote(dir / "u") + " --data " + data);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--features"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace medai
