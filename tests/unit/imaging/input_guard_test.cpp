// The out-of-distribution guard's input checks (imaging/ood_guard.h): no network involved.
#include <gtest/gtest.h>

#include <random>

#include "medai/core/error.h"
#include "medai/imaging/classifier_card.h"
#include "medai/imaging/ood_guard.h"
#include "medai/io/image.h"

using namespace medai;

namespace {

io::Image grey_film(int side = 64, uint64_t seed = 1) {
  io::Image im;
  im.width = im.height = side;
  im.format = "png";
  im.pixels.resize(static_cast<size_t>(side) * side);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 5);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) im.pixels[y * side + x] = 100 + 80 * std::sin(x * 0.2f) * (y > 10) + noise(rng);
  return im;
}

io::Image dicom(const std::string& modality, const std::string& body, const std::string& age = "") {
  io::Image im = grey_film();
  im.format = "dicom";
  im.meta["modality"] = modality;
  im.meta["body_part"] = body;
  if (!age.empty()) im.meta["patient_age_years"] = age;
  return im;
}

}  // namespace

TEST(InputGuard, AGreyFilmPassesBlankFlatAndColourImagesAreFlagged) {
  const imaging::Expected e;
  EXPECT_FALSE(imaging::check_input(grey_film(), e));
  io::Image blank = grey_film(128);
  std::fill(blank.pixels.begin(), blank.pixels.end(), 7.0f);
  ASSERT_TRUE(imaging::check_input(blank, e));
  EXPECT_NE(imaging::check_input(blank, e)->find("blank"), std::string::npos);
  io::Image flat = blank;
  flat.pixels[5] = 300;  // one bright pixel: a range, but no contrast
  EXPECT_NE(imaging::check_input(flat, e).value_or("").find("almost blank"), std::string::npos);
  // Colour: red nuclei-like blobs on white; a grey image stored as RGB passes.
  io::Image colour = grey_film();
  colour.channels = 3;
  colour.pixels.assign(colour.pixels.size() * 3, 250.0f);
  for (size_t i = 0; i < colour.pixels.size() / 3; i += 7) colour.pixels[3 * i + 1] = colour.pixels[3 * i + 2] = 90;
  EXPECT_NE(imaging::check_input(colour, e).value_or("").find("colour"), std::string::npos);
  io::Image grey_rgb = grey_film();
  grey_rgb.channels = 3;
  std::vector<float> px;
  for (float v : grey_film().pixels) px.insert(px.end(), {v, v, v});
  grey_rgb.pixels = px;
  EXPECT_FALSE(imaging::check_input(grey_rgb, e));
}

TEST(InputGuard, DicomMetadataOutsideTheTrainingPopulationIsFlaggedWithTheReason) {
  imaging::Expected e;  // CR/DX, CHEST by default
  EXPECT_FALSE(imaging::check_input(dicom("CR", "CHEST"), e));
  EXPECT_FALSE(imaging::check_input(dicom("DX", ""), e));  // absent body part: not checked
  EXPECT_FALSE(imaging::check_input(dicom("cr", "chest"), e));
  EXPECT_NE(imaging::check_input(dicom("CT", "CHEST"), e).value_or("").find("modality CT"), std::string::npos);
  EXPECT_NE(imaging::check_input(dicom("MR", "HEAD"), e).value_or("").find("MR"), std::string::npos);
  EXPECT_NE(imaging::check_input(dicom("CR", "SKULL"), e).value_or("").find("body part SKULL"), std::string::npos);
  // Age only when the card states a range.
  EXPECT_FALSE(imaging::check_input(dicom("CR", "CHEST", "64.4"), e));
  e.max_age_years = 16;
  EXPECT_NE(imaging::check_input(dicom("CR", "CHEST", "64.4"), e).value_or("").find("age 64"), std::string::npos);
  EXPECT_FALSE(imaging::check_input(dicom("CR", "CHEST", "4.5"), e));
  // Views when listed.
  e.views = {"AP"};
  io::Image pa = dicom("CR", "CHEST");
  pa.meta["view_position"] = "PA";
  EXPECT_NE(imaging::check_input(pa, e).value_or("").find("view PA"), std::string::npos);
  // An empty list checks nothing.
  e.modalities.clear();
  EXPECT_FALSE(imaging::check_input(dicom("CT", "CHEST"), imaging::Expected{{}, {}, {}, {}, {}}));
}

TEST(InputGuard, TheVerdictPutsInputChecksFirstThenTheDistance) {
  auto v = imaging::judge(std::nullopt, 3.0, 5.0);
  EXPECT_TRUE(v.in_distribution);
  v = imaging::judge(std::nullopt, 7.5, 5.0);
  EXPECT_FALSE(v.in_distribution);
  EXPECT_NE(v.reason.find("7.5"), std::string::npos);
  v = imaging::judge(std::string("the image is blank"), 1.0, 5.0);
  EXPECT_FALSE(v.in_distribution);
  EXPECT_EQ(v.reason, "the image is blank");
}

TEST(InputGuard, TheCardKeepsTheGuardAndRefusesABadOne) {
  nlohmann::json card = {{"format_version", 2},
                         {"kind", "classifier"},
                         {"task", "binary image classification"},
                         {"architecture", "resnet18"},
                         {"preprocessing", {{"size", 64}, {"channels", 1}}},
                         {"classes", {"NORMAL", "PNEUMONIA"}},
                         {"operating_point", {{"threshold", 0.4}}},
                         {"calibration", {{"temperature", 1.2}}}};
  EXPECT_FALSE(imaging::ClassifierCard::from_json(card, "card").guard.present);
  card["ood_guard"] = {{"threshold", 12.5},
                       {"dim", 512},
                       {"expected", {{"modalities", {"CR"}}, {"age_years", {nullptr, 16}}}},
                       {"validation", {{"acceptance", 0.99}}}};
  const auto c = imaging::ClassifierCard::from_json(card, "card");
  ASSERT_TRUE(c.guard.present);
  EXPECT_DOUBLE_EQ(c.guard.threshold, 12.5);
  EXPECT_EQ(c.guard.expected.modalities, std::vector<std::string>{"CR"});
  EXPECT_FALSE(c.guard.expected.min_age_years);
  EXPECT_DOUBLE_EQ(*c.guard.expected.max_age_years, 16);
  const auto back = imaging::ClassifierCard::from_json(c.to_json(), "again");
  EXPECT_DOUBLE_EQ(back.guard.threshold, 12.5);
  EXPECT_EQ(back.to_json()["ood_guard"]["validation"]["acceptance"], 0.99);
  card["ood_guard"]["expected"]["age_years"] = {1};
  EXPECT_THROW(imaging::ClassifierCard::from_json(card, "card"), Error);
  card["ood_guard"] = {{"dim", 512}};
  EXPECT_THROW(imaging::ClassifierCard::from_json(card, "card"), Error);
}
