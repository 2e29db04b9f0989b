#include "medai/bridges/crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "medai/core/error.h"

namespace medai::bridges::crypto {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

[[noreturn]] void openssl_failed(const char* what) { fail(ErrorCode::Internal, std::string("OpenSSL: ") + what); }

std::string raw_key(EVP_PKEY* key, bool is_public) {
  std::string out(32, '\0');
  size_t len = out.size();
  const int ok = is_public ? EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(out.data()), &len)
                           : EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(out.data()), &len);
  if (ok != 1 || len != 32) openssl_failed("cannot export an X25519 key");
  return out;
}

}  // namespace

KeyPair x25519_keypair() {
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    openssl_failed("X25519 key generation failed");
  Pkey key(raw);
  return {raw_key(key.get(), true), raw_key(key.get(), false)};
}

std::string x25519_shared(const std::string& private_key, const std::string& peer_public_key) {
  if (private_key.size() != 32) fail_invalid("X25519: the private key must be 32 bytes");
  if (peer_public_key.size() != 32)
    fail_invalid("X25519: a peer's public key must be 32 bytes, got " + std::to_string(peer_public_key.size()));
  Pkey mine(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr,
                                         reinterpret_cast<const unsigned char*>(private_key.data()), 32));
  Pkey theirs(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(peer_public_key.data()), 32));
  if (!mine || !theirs) openssl_failed("cannot load an X25519 key");
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  std::string secret(32, '\0');
  size_t len = secret.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &len) != 1 || len != 32)
    fail_invalid("X25519: key agreement failed (a low-order public key?)");
  if (secret == std::string(32, '\0')) fail_invalid("X25519: the peer's public key gives the all-zero secret");
  return secret;
}

std::vector<uint64_t> chacha20_words(const std::string& key, uint64_t nonce, size_t n) {
  if (key.size() != 32) fail_invalid("ChaCha20: the key must be 32 bytes");
  unsigned char iv[16] = {0};  // OpenSSL's ChaCha20 IV: 32-bit counter, then the 96-bit nonce
  std::memcpy(iv + 8, &nonce, sizeof nonce);
  std::unique_ptr<EVP_CIPHER_CTX, CipherFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_chacha20(), nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                                 iv) != 1)
    openssl_failed("ChaCha20 initialisation failed");
  std::vector<uint64_t> out(n, 0);  // encrypting zeros gives the keystream
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  const size_t total = n * sizeof(uint64_t);
  for (size_t off = 0; off < total;) {
    const int chunk = static_cast<int>(std::min<size_t>(total - off, 1 << 30));
    int len = 0;
    if (EVP_EncryptUpdate(ctx.get(), bytes + off, &len, bytes + off, chunk) != 1) openssl_failed("ChaCha20 failed");
    off += static_cast<size_t>(len);
  }
  return out;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    openssl_failed("no random bytes");
  return out;
}

std::string random_hex(size_t n) {
  std::string s;
  for (unsigned char c : random_bytes(n)) s += "0123456789abcdef"[c >> 4], s += "0123456789abcdef"[c & 15];
  return s;
}

namespace {
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
}  // namespace

PemPair self_signed_certificate(const std::string& host, int days) {
  Pkey key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!key || !cert) openssl_failed("cannot create a key or certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("medai federation"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + host + ",IP:127.0.0.1";
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  if (!ext || X509_add_ext(cert.get(), ext, -1) != 1) openssl_failed("cannot add subjectAltName");
  X509_EXTENSION_free(ext);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) openssl_failed("cannot sign the certificate");
  std::unique_ptr<BIO, BioFree> cb(BIO_new(BIO_s_mem())), kb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cb.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    openssl_failed("cannot write PEM");
  return {bio_text(cb.get()), bio_text(kb.get())};
}

}  // namespace medai::bridges::crypto
