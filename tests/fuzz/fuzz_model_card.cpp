// A model card (model_card.json) as the classifier and the forecaster load it: every field is
// checked before a network is built from it.
#include "fuzz_support.h"
#include "medai/glucose/lstm_forecaster.h"
#include "medai/imaging/classifier_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace medai;
  const auto card = fuzz::scratch_file("model_card.json", fuzz::bytes(data, size));
  const auto dir = card.parent_path();
  fuzz::expect_refusal_or_success([&] { imaging::ClassifierModel::load(dir, false); });
  fuzz::expect_refusal_or_success([&] { glucose::GlucoseForecaster::load(dir); });
  return 0;
}
