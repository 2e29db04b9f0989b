#pragma once
// Secure aggregation with pairwise masks (Bonawitz et al., CCS 2017, the semi-honest core): every
// site of a round holds an X25519 key pair; sites i and j derive the same secret from their keys,
// expand it with ChaCha20 into a mask over Z_2^64 and one adds it while the other subtracts it, so
// the masks cancel in the sum and the coordinator learns only the sum of the updates. Updates are
// encoded in fixed point (2^-24 resolution) as two's complement 64-bit integers, so the sum is exact
// modulo 2^64 and decodes exactly while |sum| < 2^39. A site that drops out after the masks were
// fixed leaves them uncancelled: the coordinator aborts that round (nothing is learned from the
// partial sum) and starts it again without the site.
#include <cstdint>
#include <string>
#include <vector>

namespace medai::federated {

inline constexpr double kFixedPointScale = 16777216.0;  // 2^24

std::vector<uint64_t> encode_fixed_point(const std::vector<float>& values, double weight);
std::vector<double> decode_fixed_point(const std::vector<uint64_t>& sum);

struct MaskPeer {
  std::string site, public_key;
};

// `encoded` plus the pairwise masks with every other peer of the round (ordered by site name: the
// smaller name adds, the larger subtracts). `round` makes the masks of each round fresh.
std::vector<uint64_t> mask_update(const std::vector<uint64_t>& encoded, const std::string& site,
                                  const std::string& private_key, const std::vector<MaskPeer>& peers, uint64_t round);

// Adds `masked` into `sum` (modulo 2^64).
void add_masked(std::vector<uint64_t>& sum, const std::vector<uint64_t>& masked);

}  // namespace medai::federated
