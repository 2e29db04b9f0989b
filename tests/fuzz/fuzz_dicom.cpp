// DICOM decode from bytes (any transfer syntax), then the display frame models see.
#include "fuzz_support.h"
#include "medai/io/dicom.h"
#include "medai/io/image.h"

#include <opencv2/core.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  medai::fuzz::expect_refusal_or_success([&] {
    auto d = medai::io::decode_dicom(medai::fuzz::bytes(data, size), "fuzz.dcm");
    medai::io::display_frame(d.image);
  });
  return 0;
}
