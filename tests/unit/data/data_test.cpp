#include <gtest/gtest.h>

#include <set>

#include "medai/core/error.h"
#include "medai/data/image_dataset.h"
#include "medai/data/image_loader.h"
#include "medai/data/split.h"
#include "medai/io/image.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace medai;

namespace {
// DIR/NORMAL and DIR/PNEUMONIA with Kermany-style names; patients have 1-3 images each.
void make_class_folders(const fs::path& dir, int patients_per_class) {
  for (const char* cls : {"NORMAL", "PNEUMONIA"}) {
    fs::create_directories(dir / cls);
    for (int p = 0; p < patients_per_class; ++p)
      for (int k = 0; k <= p % 3; ++k) {
        std::string name = std::string(cls) == "NORMAL"
                               ? "IM-" + std::to_string(1000 + p) + "-000" + std::to_string(k + 1)
                               : "person" + std::to_string(p) + "_bacteria_" + std::to_string(k);
        io::write_png(dir / cls / (name + ".png"),
                      test::quadrant_image(40, std::string(cls) == "NORMAL" ? -1 : p % 4, p * 7 + k));
      }
  }
}
}  // namespace

TEST(PatientId, FollowsKermanyNaming) {
  EXPECT_EQ(data::patient_id_from_filename("person1000_bacteria_2931"), "person1000");
  EXPECT_EQ(data::patient_id_from_filename("IM-0115-0001"), "IM-0115");
  EXPECT_EQ(data::patient_id_from_filename("NORMAL2-IM-1427-0001"), "NORMAL2-IM-1427");
  EXPECT_EQ(data::patient_id_from_filename("scan"), "scan");
}

TEST(ImageDataset, ReadsClassFoldersInSortedClassOrder) {
  test::TempDir dir;
  make_class_folders(dir.path(), 6);
  auto ds = data::load_image_dataset(dir.path());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"NORMAL", "PNEUMONIA"}));
  EXPECT_EQ(ds.samples.size(), 24u);
  EXPECT_EQ(ds.class_counts(), (std::vector<int64_t>{12, 12}));
  EXPECT_EQ(ds.fingerprint().size(), 64u);
  EXPECT_EQ(ds.fingerprint(), data::load_image_dataset(dir.path()).fingerprint());
}

TEST(ImageDataset, ReadsACsvIndexWithPatientIdsAndSplitFilter) {
  test::TempDir dir;
  make_class_folders(dir.path(), 3);
  test::write_text(dir / "index.csv",
                   "path,split,label,patient_id\n"
                   "NORMAL/IM-1000-0001.png,train,NORMAL,A\n"
                   "PNEUMONIA/person0_bacteria_0.png,train,PNEUMONIA,B\n"
                   "PNEUMONIA/person1_bacteria_0.png,test,PNEUMONIA,C\n");
  data::DatasetOptions o;
  o.split = "train";
  auto ds = data::load_image_dataset(dir.path(), o);
  ASSERT_EQ(ds.samples.size(), 2u);
  EXPECT_EQ(ds.samples[1].patient_id, "B");
  EXPECT_EQ(ds.samples[1].label, 1);
}

TEST(ImageDataset, EmptyFolderAndMissingClassAreClearErrors) {
  test::TempDir dir;
  try {
    data::load_image_dataset(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no images found"), std::string::npos) << e.what();
  }
  fs::create_directories(dir / "NORMAL");
  io::write_png(dir / "NORMAL" / "a-1.png", test::quadrant_image(16, -1, 1));
  try {
    data::load_image_dataset(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("only class 'NORMAL'"), std::string::npos) << e.what();
  }
  data::DatasetOptions o;
  o.classes = std::vector<std::string>{"NORMAL", "PNEUMONIA"};
  try {
    data::load_image_dataset(dir.path(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'PNEUMONIA' missing"), std::string::npos) << e.what();
  }
}

TEST(GroupedSplit, KeepsEveryPatientOnOneSideAndStratifies) {
  test::TempDir dir;
  make_class_folders(dir.path(), 30);
  auto ds = data::load_image_dataset(dir.path());
  auto s = data::grouped_stratified_split(ds, 0.2, 3);
  std::set<std::string> tr, va;
  for (size_t i : s.train) tr.insert(ds.samples[i].patient_id);
  for (size_t i : s.validation) va.insert(ds.samples[i].patient_id);
  for (const auto& p : va) EXPECT_EQ(tr.count(p), 0u) << p;
  EXPECT_EQ(s.train.size() + s.validation.size(), ds.samples.size());
  int val_pos = 0;
  for (size_t i : s.validation) val_pos += ds.samples[i].label;
  EXPECT_GT(val_pos, 0);
  EXPECT_LT(val_pos, static_cast<int>(s.validation.size()));
  EXPECT_NEAR(static_cast<double>(s.validation.size()) / ds.samples.size(), 0.2, 0.06);
  auto again = data::grouped_stratified_split(ds, 0.2, 3);
  EXPECT_EQ(again.validation, s.validation);
  EXPECT_NE(data::grouped_stratified_split(ds, 0.2, 4).validation, s.validation);
}

TEST(ImageLoader, SameSeedAndEpochGiveIdenticalBatchesWhateverTheThreads) {
  test::TempDir dir;
  make_class_folders(dir.path(), 8);
  auto ds = data::load_image_dataset(dir.path());
  std::vector<size_t> idx(ds.samples.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto collect = [&](int workers, int epoch) {
    data::DecodedCache cache(ds, 32);
    data::LoaderOptions o;
    o.batch_size = 5;
    o.shuffle = true;
    o.augment = true;
    o.seed = 9;
    o.epoch = epoch;
    o.workers = workers;
    data::ImageLoader loader(cache, ds, idx, o);
    std::vector<float> all;
    std::vector<size_t> order;
    int batches = 0;
    while (auto b = loader.next()) {
      EXPECT_EQ(b->pixels.size(), static_cast<size_t>(b->size) * 32 * 32);
      all.insert(all.end(), b->pixels.begin(), b->pixels.end());
      order.insert(order.end(), b->indices.begin(), b->indices.end());
      ++batches;
    }
    EXPECT_EQ(batches, loader.num_batches());
    return std::make_pair(all, order);
  };
  auto a = collect(1, 0), b = collect(3, 0), c = collect(2, 1);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_NE(a.second, c.second);
  EXPECT_EQ(a.second.size(), idx.size());
}

TEST(ImageLoader, AnUnreadableFileStopsLoadingWithItsName) {
  test::TempDir dir;
  make_class_folders(dir.path(), 4);
  test::write_text(dir / "NORMAL" / "IM-9999-0001.png", "\x89PNG\r\n\x1a\n but then nothing");
  auto ds = data::load_image_dataset(dir.path());
  std::vector<size_t> idx(ds.samples.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  data::DecodedCache cache(ds, 32);
  try {
    cache.preload(idx, 2, false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("IM-9999-0001.png"), std::string::npos) << e.what();
  }
}

TEST(ImageDataset, FindsClassFoldersInsideASplitFolder) {
  test::TempDir dir;
  make_class_folders(dir / "test", 2);
  EXPECT_EQ(data::load_image_dataset(dir.path()).samples.size(), 6u);  // the only split folder
  make_class_folders(dir / "train", 3);
  data::DatasetOptions o;
  o.split = "train";
  EXPECT_EQ(data::load_image_dataset(dir.path(), o).samples.size(), 12u);
  EXPECT_THROW(data::load_image_dataset(dir.path()), Error);  // two split folders: ambiguous without --split
}

TEST(DecodedCache, StoringAndNotStoringGiveTheSameImagesWithin16BitRounding) {
  test::TempDir dir;
  make_class_folders(dir.path(), 3);
  auto ds = data::load_image_dataset(dir.path());
  data::DecodedCache kept(ds, 32, true), fresh(ds, 32, false);
  EXPECT_FALSE(fresh.keeps());
  for (size_t i = 0; i < ds.samples.size(); ++i)
    EXPECT_LE(cv::norm(kept.get(i), fresh.get(i), cv::NORM_INF), 1.0 / 65535) << i;
}
