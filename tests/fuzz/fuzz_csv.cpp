// Every CSV reader on the same bytes: the dataset index, the simulator schedule, the
// recommendation history and a CGM recording.
#include "fuzz_support.h"
#include "medai/data/image_dataset.h"
#include "medai/glucose/cgm_data.h"
#include "medai/glucose/recommend.h"
#include "medai/glucose/schedule.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace medai;
  const std::string text = fuzz::bytes(data, size);
  const auto path = fuzz::scratch_file("fuzz.csv", text);
  fuzz::expect_refusal_or_success([&] { data::load_image_dataset(path); });
  fuzz::expect_refusal_or_success([&] { glucose::read_schedule(path); });
  fuzz::expect_refusal_or_success([&] { glucose::read_schedule_meals(path); });
  fuzz::expect_refusal_or_success([&] {
    glucose::PatientSettings p;
    p.basal_u_per_min = 1.0 / 60;
    glucose::recommend(glucose::parse_history(text, "history.csv"), p, 0, {});
  });
  fuzz::expect_refusal_or_success([&] { glucose::read_cgm_csv(path); });
  return 0;
}
