// PNG through libpng (8/16-bit, size checked before allocating), then the display frame.
#include "fuzz_support.h"
#include "medai/io/image.h"

#include <opencv2/core.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  medai::fuzz::expect_refusal_or_success([&] {
    auto img = medai::io::read_png(medai::fuzz::bytes(data, size), "fuzz.png");
    medai::io::display_frame(img);
  });
  return 0;
}
