#include "medai/federated/secure_aggregation.h"

#include <cmath>

#include "medai/bridges/crypto/crypto.h"
#include "medai/core/error.h"
#include "medai/core/sha256.h"

namespace medai::federated {

std::vector<uint64_t> encode_fixed_point(const std::vector<float>& values, double weight) {
  std::vector<uint64_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = std::round(static_cast<double>(values[i]) * weight * kFixedPointScale);
    if (!std::isfinite(v) || std::fabs(v) > 9.0e15)
      fail_invalid("secure aggregation: an update value is too large for fixed point");
    out[i] = static_cast<uint64_t>(static_cast<int64_t>(v));
  }
  return out;
}

std::vector<double> decode_fixed_point(const std::vector<uint64_t>& sum) {
  std::vector<double> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<double>(static_cast<int64_t>(sum[i])) / kFixedPointScale;
  return out;
}

std::vector<uint64_t> mask_update(const std::vector<uint64_t>& encoded, const std::string& site,
                                  const std::string& private_key, const std::vector<MaskPeer>& peers, uint64_t round) {
  std::vector<uint64_t> out = encoded;
  for (const auto& p : peers) {
    if (p.site == site) continue;
    const std::string secret = bridges::crypto::x25519_shared(private_key, p.public_key);
    core::Sha256 kdf;  // a fresh key per pair and round
    kdf.update(secret);
    kdf.update("medai secure aggregation mask");
    const auto key = kdf.digest();
    const auto mask = bridges::crypto::chacha20_words(
        std::string(reinterpret_cast<const char*>(key.data()), key.size()), round, out.size());
    const bool add = site < p.site;
    for (size_t i = 0; i < out.size(); ++i) out[i] = add ? out[i] + mask[i] : out[i] - mask[i];
  }
  return out;
}

void add_masked(std::vector<uint64_t>& sum, const std::vector<uint64_t>& masked) {
  if (sum.empty()) sum.assign(masked.size(), 0);
  if (sum.size() != masked.size()) fail_invalid("secure aggregation: masked updates of different sizes");
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += masked[i];
}

}  // namespace medai::federated
