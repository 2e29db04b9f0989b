// DICOM de-identification in memory, and the server's de-identify-then-decode path.
#include "fuzz_support.h"
#include "medai/io/dicom_deid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = medai::fuzz::bytes(data, size);
  medai::fuzz::expect_refusal_or_success([&] { medai::io::deidentify_dicom_bytes(in, "fuzz.dcm", "fuzz-secret"); });
  medai::fuzz::expect_refusal_or_success(
      [&] { medai::io::deidentify_and_decode_dicom(in, "fuzz.dcm", "fuzz-secret"); });
  return 0;
}
