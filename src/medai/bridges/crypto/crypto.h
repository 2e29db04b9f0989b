#pragma once
// The cryptography secure aggregation needs, from OpenSSL (Debian libssl-dev) behind one bridge:
// X25519 key agreement (RFC 7748), a ChaCha20 keystream as the pseudo-random generator of the
// pairwise masks, and the operating system's random bytes. Keys are raw 32-byte strings.
#include <cstdint>
#include <string>
#include <vector>

namespace medai::bridges::crypto {

struct KeyPair {
  std::string public_key, private_key;
};
KeyPair x25519_keypair();
// The shared secret of our private key and a peer's public key (the same on both sides); fails
// (InvalidInput) on a public key that is not 32 bytes or yields the all-zero secret.
std::string x25519_shared(const std::string& private_key, const std::string& peer_public_key);
// `n` 64-bit words of the ChaCha20 keystream for a 32-byte key and a 64-bit nonce.
std::vector<uint64_t> chacha20_words(const std::string& key, uint64_t nonce, size_t n);
std::string random_bytes(size_t n);
// `n` random bytes as lowercase hex (session ids, nonces, tokens).
std::string random_hex(size_t n);

// A self-signed TLS certificate (ECDSA P-256, SHA-256, subjectAltName DNS:`host` and IP 127.0.0.1)
// valid for `days`, as PEM: for a federation on loopback (medai fl simulate) or a first test.
struct PemPair {
  std::string certificate, private_key;
};
PemPair self_signed_certificate(const std::string& host, int days = 30);

}  // namespace medai::bridges::crypto
