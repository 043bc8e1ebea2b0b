#include "common/crypto/encrypted_file_format.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

namespace tunefleet::crypto {
namespace {

void PutLe16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

uint16_t GetLe16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

}  // namespace

std::string EncryptedFileHeader::Serialize() const {
  std::string out(kEncryptedFileMagic);
  PutLe16(out, kEncryptedFileVersion);
  out.push_back(static_cast<char>(kAlgorithmAes256GcmHkdf));
  out.push_back(static_cast<char>(chunk_log2));
  out.append(reinterpret_cast<const char*>(key_id.data()), key_id.size());
  out.append(salt);
  PutLe16(out, static_cast<uint16_t>(context.size()));
  out.append(context);
  return out;
}

bool HasEncryptedFileMagic(absl::string_view prefix) {
  return prefix.size() >= kEncryptedFileMagic.size() &&
         prefix.substr(0, kEncryptedFileMagic.size()) == kEncryptedFileMagic;
}

absl::StatusOr<size_t> ParseFixedHeader(absl::string_view fixed, const std::string& path,
                                        EncryptedFileHeader* header) {
  if (fixed.size() < kFixedHeaderBytes || !HasEncryptedFileMagic(fixed)) {
    return absl::DataLossError(absl::StrCat(path, ": not an encrypted file (no TFCRYPT header)"));
  }
  const char* p = fixed.data();
  const uint16_t version = GetLe16(p + 8);
  if (version != kEncryptedFileVersion) {
    return absl::UnimplementedError(absl::StrCat(path, ": encrypted file format version ", version,
                                                 ", this build reads version ", kEncryptedFileVersion));
  }
  if (static_cast<uint8_t>(p[10]) != kAlgorithmAes256GcmHkdf) {
    return absl::DataLossError(absl::StrCat(path, ": unknown encryption algorithm ",
                                            static_cast<uint8_t>(p[10]), " in the header (damaged)"));
  }
  const uint8_t chunk_log2 = static_cast<uint8_t>(p[11]);
  if (chunk_log2 < kMinChunkLog2 || chunk_log2 > kMaxChunkLog2) {
    return absl::DataLossError(absl::StrCat(path, ": chunk size 2^", chunk_log2, " in the header (damaged)"));
  }
  const size_t context_size = GetLe16(p + 52);
  if (context_size > kMaxContextBytes) {
    return absl::DataLossError(
        absl::StrCat(path, ": context of ", context_size, " bytes in the header (damaged)"));
  }
  header->chunk_log2 = chunk_log2;
  std::memcpy(header->key_id.data(), p + 12, kKeyIdBytes);
  header->salt.assign(p + 20, kSaltBytes);
  return context_size;
}

absl::StatusOr<std::string> DeriveFileKey(const EncryptionKey& key, absl::string_view salt) {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  std::string out(kKeyBytes, '\0');
  size_t out_size = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), reinterpret_cast<const unsigned char*>(salt.data()),
                                  static_cast<int>(salt.size())) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), key.bytes().data(), static_cast<int>(key.bytes().size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), reinterpret_cast<const unsigned char*>(kFileKeyInfo.data()),
                                  static_cast<int>(kFileKeyInfo.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &out_size) <= 0 ||
      out_size != kKeyBytes) {
    return absl::InternalError("HKDF-SHA256 failed deriving a file key");
  }
  return out;
}

std::string ChunkNonce(uint64_t index, bool last) {
  std::string nonce(kNonceBytes, '\0');
  for (int i = 0; i < 8; ++i) nonce[static_cast<size_t>(i)] = static_cast<char>(index >> (56 - 8 * i));
  nonce[kNonceBytes - 1] = last ? 1 : 0;
  return nonce;
}

}  // namespace tunefleet::crypto
