// JPEG: medai's frame-header check, then OpenCV's decoder, then the display frame.
#include "fuzz_support.h"
#include "medai/io/image.h"

#include <opencv2/core.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  medai::fuzz::expect_refusal_or_success([&] {
    auto img = medai::io::read_jpeg(medai::fuzz::bytes(data, size), "fuzz.jpg");
    medai::io::display_frame(img);
  });
  return 0;
}
