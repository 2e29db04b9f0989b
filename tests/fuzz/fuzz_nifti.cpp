// NIfTI-1 (.nii or gzip-compressed: zlib reads both through the same call).
#include "fuzz_support.h"
#include "medai/io/image.h"

#include <opencv2/core.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = medai::fuzz::scratch_file("fuzz.nii", medai::fuzz::bytes(data, size));
  medai::fuzz::expect_refusal_or_success([&] {
    auto img = medai::io::read_nifti(path);
    medai::io::display_frame(img);
  });
  return 0;
}
