// The encrypted file format as a specification: what round-trips, and what
// each kind of damage reads as.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "common/crypto/encrypted_file_format.h"
#include "common/crypto/encrypted_reader.h"
#include "common/crypto/encrypted_writer.h"
#include "common/crypto/encryption_key.h"
#include "tests/testing/child_process.h"

namespace tunefleet::crypto {
namespace {

using ::testing::HasSubstr;

constexpr uint8_t kSmallChunkLog2 = kMinChunkLog2;  // 64 KiB: several chunks from small data
constexpr size_t kSmallChunk = size_t{1} << kSmallChunkLog2;

KeyRing Ring(char fill) {
  absl::StatusOr<EncryptionKey> key = EncryptionKey::FromBytes(std::string(kKeyBytes, fill));
  EXPECT_TRUE(key.ok());
  std::vector<EncryptionKey> keys;
  keys.push_back(*key);
  return *KeyRing::Create(std::move(keys));
}

std::string Pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return out;
}

absl::StatusOr<std::string> Encrypt(const KeyRing& ring, const std::string& plain,
                                    const std::string& context = "ctx",
                                    uint8_t chunk_log2 = kSmallChunkLog2) {
  std::string out;
  auto writer = EncryptingWriter::Create(
      ring.current(), context,
      [&](const uint8_t* d, size_t n) {
        out.append(reinterpret_cast<const char*>(d), n);
        return absl::OkStatus();
      },
      chunk_log2);
  if (!writer.ok()) return writer.status();
  // Odd pieces: chunk boundaries must not depend on how bytes arrive.
  for (size_t at = 0; at < plain.size();) {
    const size_t n = std::min<size_t>(plain.size() - at, 10007);
    if (auto s = (*writer)->Append(plain.data() + at, n); !s.ok()) return s;
    at += n;
  }
  if (auto s = (*writer)->Finish(); !s.ok()) return s;
  EXPECT_EQ((*writer)->encrypted_bytes(), out.size());
  return out;
}

class EncryptedFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& bytes) {
    const std::string path = dir_ + "/file.enc";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return path;
  }
  absl::StatusOr<std::string> Read(const std::string& bytes, const KeyRing& ring,
                                   DecryptOptions options = {}) {
    return DecryptFileToString(Write(bytes), ring, options);
  }
  std::string dir_ = tunefleet::testing::FreshTestDirectory();
  KeyRing ring_ = Ring('k');
};

TEST_F(EncryptedFileTest, RoundTripsEverySizeAroundChunkBoundaries) {
  for (size_t size : {size_t{0}, size_t{1}, kSmallChunk - 1, kSmallChunk, kSmallChunk + 1, 3 * kSmallChunk,
                      3 * kSmallChunk + 5}) {
    const std::string plain = Pattern(size);
    absl::StatusOr<std::string> sealed = Encrypt(ring_, plain);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    EXPECT_EQ(sealed->size(), EncryptedFileSize(size, 3, kSmallChunkLog2)) << size;
    if (size >= 64) {
      EXPECT_EQ(sealed->find(plain.substr(0, 64)), std::string::npos);  // no plaintext on disk
    }
    absl::StatusOr<std::string> back = Read(*sealed, ring_, DecryptOptions::ExpectContext("ctx"));
    ASSERT_TRUE(back.ok()) << size << ": " << back.status();
    EXPECT_EQ(*back, plain) << size;
  }
}

TEST_F(EncryptedFileTest, SameInputEncryptsDifferentlyEachTime) {
  const std::string plain = Pattern(1000);
  EXPECT_NE(*Encrypt(ring_, plain), *Encrypt(ring_, plain));  // a fresh salt, so a fresh file key
}

TEST_F(EncryptedFileTest, WrongKeyIsToldApartFromTampering) {
  const absl::StatusOr<std::string> back = Read(*Encrypt(ring_, Pattern(100)), Ring('x'));
  ASSERT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition) << back.status();
  EXPECT_THAT(back.status().message(), HasSubstr("wrong key"));
  EXPECT_THAT(back.status().message(), HasSubstr(KeyIdHex(ring_.current().id())));
  EXPECT_THAT(back.status().message(), HasSubstr("file.enc"));
}

TEST_F(EncryptedFileTest, RotatedKeyRingDecryptsOldFilesAndEncryptsWithTheNewKey) {
  const std::string old_file = *Encrypt(ring_, "old");
  std::vector<EncryptionKey> keys;
  keys.push_back(*EncryptionKey::FromBytes(std::string(kKeyBytes, 'n')));
  keys.push_back(ring_.current());
  const KeyRing rotated = *KeyRing::Create(std::move(keys));
  EXPECT_EQ(*Read(old_file, rotated), "old");
  const std::string new_file = *Encrypt(rotated, "new");
  EXPECT_EQ(Read(new_file, ring_).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*Read(new_file, rotated), "new");
}

// Every byte class of the file, flipped, reads as a DATA_LOSS naming the
// file (or a wrong key, for the key id).
TEST_F(EncryptedFileTest, EachTamperedByteClassIsDetected) {
  const std::string plain = Pattern(2 * kSmallChunk + 100);
  const std::string sealed = *Encrypt(ring_, plain);
  const size_t header = kFixedHeaderBytes + 3;
  const size_t sealed_chunk = kSmallChunk + kTagBytes;
  struct Case {
    const char* what;
    size_t offset;
    absl::StatusCode code;
    const char* says;
  };
  const Case cases[] = {
      {"magic", 0, absl::StatusCode::kDataLoss, "not an encrypted file"},
      {"version", 8, absl::StatusCode::kUnimplemented, "version"},
      {"algorithm", 10, absl::StatusCode::kDataLoss, "algorithm"},
      {"chunk size", 11, absl::StatusCode::kDataLoss, "chunk"},
      {"key id", 12, absl::StatusCode::kFailedPrecondition, "wrong key"},
      {"salt (the file nonce)", 30, absl::StatusCode::kDataLoss, "does not authenticate"},
      {"context", kFixedHeaderBytes + 1, absl::StatusCode::kDataLoss, "expected \"ctx\""},
      {"first ciphertext byte", header, absl::StatusCode::kDataLoss, "chunk 0 of 3 does not authenticate"},
      {"middle chunk ciphertext", header + sealed_chunk + 500, absl::StatusCode::kDataLoss, "chunk 1 of 3"},
      {"tag of chunk 0", header + kSmallChunk + 3, absl::StatusCode::kDataLoss, "chunk 0 of 3"},
      {"last tag byte", sealed.size() - 1, absl::StatusCode::kDataLoss, "chunk 2 of 3"},
  };
  for (const Case& c : cases) {
    std::string damaged = sealed;
    damaged[c.offset] = static_cast<char>(damaged[c.offset] ^ 0x01);
    const absl::StatusOr<std::string> back = Read(damaged, ring_, DecryptOptions::ExpectContext("ctx"));
    EXPECT_EQ(back.status().code(), c.code) << c.what << ": " << back.status();
    EXPECT_THAT(back.status().message(), HasSubstr(c.says)) << c.what;
    EXPECT_THAT(back.status().message(), HasSubstr("file.enc")) << c.what;
  }
}

TEST_F(EncryptedFileTest, TruncationAnywhereIsDetected) {
  const std::string sealed = *Encrypt(ring_, Pattern(2 * kSmallChunk + 100));
  const size_t header = kFixedHeaderBytes + 3;
  const size_t sealed_chunk = kSmallChunk + kTagBytes;
  for (size_t keep :
       {size_t{0}, size_t{20}, header, header + 10, header + sealed_chunk,  // at a chunk boundary
        header + 2 * sealed_chunk, sealed.size() - 1}) {
    const absl::StatusOr<std::string> back = Read(sealed.substr(0, keep), ring_);
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss) << keep << ": " << back.status();
  }
}

TEST_F(EncryptedFileTest, SwappedDuplicatedOrDroppedChunksAreDetected) {
  const std::string sealed = *Encrypt(ring_, Pattern(3 * kSmallChunk + 100));
  const size_t header = kFixedHeaderBytes + 3;
  const size_t sc = kSmallChunk + kTagBytes;
  const std::string head = sealed.substr(0, header);
  const std::string c0 = sealed.substr(header, sc), c1 = sealed.substr(header + sc, sc),
                    c2 = sealed.substr(header + 2 * sc, sc), last = sealed.substr(header + 3 * sc);
  for (const std::string& damaged :
       {head + c1 + c0 + c2 + last, head + c0 + c0 + c2 + last, head + c0 + c2 + last,
        head + c0 + c1 + c2 + c2.substr(0, 100 + kTagBytes)}) {
    const absl::StatusOr<std::string> back = Read(damaged, ring_);
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss) << back.status();
    EXPECT_THAT(back.status().message(), HasSubstr("does not authenticate"));
  }
}

TEST_F(EncryptedFileTest, AFileFromAnotherContextIsRefused) {
  const absl::StatusOr<std::string> back = Read(*Encrypt(ring_, "weights", "save-1/model.safetensors"), ring_,
                                                DecryptOptions::ExpectContext("save-2/model.safetensors"));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(back.status().message(), HasSubstr("moved or substituted"));
}

TEST_F(EncryptedFileTest, PlaintextIsNotAnEncryptedFile) {
  EXPECT_FALSE(*IsEncryptedFile(Write("{\"step\": 1}")));
  EXPECT_TRUE(*IsEncryptedFile(Write(*Encrypt(ring_, "x"))));
  EXPECT_EQ(Read("{\"step\": 1}", ring_).status().code(), absl::StatusCode::kDataLoss);
}

// --- key files ---

std::string WriteKeyFile(const std::string& dir, const std::string& contents, mode_t mode) {
  const std::string path = dir + "/key";
  std::remove(path.c_str());
  std::ofstream(path, std::ios::binary) << contents;
  ::chmod(path.c_str(), mode);
  return path;
}

TEST_F(EncryptedFileTest, KeyFilesInHexBase64AndRawGiveTheSameKey) {
  const std::string raw = Pattern(kKeyBytes);
  const KeyId id = EncryptionKey::FromBytes(raw)->id();
  for (const std::string& contents : {raw, absl::BytesToHexString(raw) + "\n", absl::Base64Escape(raw) + "\n",
                                      "# rotated 2026-12\n\n" + absl::BytesToHexString(raw) + "\n"}) {
    absl::StatusOr<KeyRing> ring = LoadKeyFile(WriteKeyFile(dir_, contents, 0400));
    ASSERT_TRUE(ring.ok()) << ring.status();
    EXPECT_EQ(ring->current().id(), id);
  }
}

TEST_F(EncryptedFileTest, KeyFileListsKeysNewestFirst) {
  const std::string a(kKeyBytes, 'a'), b(kKeyBytes, 'b');
  absl::StatusOr<KeyRing> ring =
      LoadKeyFile(WriteKeyFile(dir_, absl::BytesToHexString(a) + "\n" + absl::Base64Escape(b) + "\n", 0600));
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->size(), 2u);
  EXPECT_EQ(ring->current().id(), EncryptionKey::FromBytes(a)->id());
}

TEST_F(EncryptedFileTest, ReadableByOthersKeyFileIsRefused) {
  const absl::StatusOr<KeyRing> ring =
      LoadKeyFile(WriteKeyFile(dir_, absl::BytesToHexString(Pattern(32)), 0644));
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ring.status().message(), HasSubstr("0644"));
  EXPECT_TRUE(LoadKeyFile(WriteKeyFile(dir_, absl::BytesToHexString(Pattern(32)), 0440)).ok());
}

TEST_F(EncryptedFileTest, BadKeyLineIsReportedWithoutItsText) {
  const std::string secretish = "deadbeef-not-a-key-but-maybe-secret";
  const absl::StatusOr<KeyRing> ring = LoadKeyFile(WriteKeyFile(dir_, "# c\n" + secretish + "\n", 0400));
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ring.status().message(), HasSubstr("line 2"));
  EXPECT_THAT(std::string(ring.status().message()), ::testing::Not(HasSubstr("deadbeef")));
  EXPECT_EQ(LoadKeyFile(WriteKeyFile(dir_, "\n# only comments\n", 0400)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // 32 hex digits with no newline: a 16-byte key written as text, not 32 raw bytes.
  EXPECT_EQ(LoadKeyFile(WriteKeyFile(dir_, std::string(32, 'a'), 0400)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tunefleet::crypto
