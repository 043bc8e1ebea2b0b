#include "common/crypto/encrypted_writer.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tunefleet::crypto {

std::string OsRandomBytes(size_t size) {
  std::string out(size, '\0');
  size_t filled = 0;
  while (filled < size) {
    const ssize_t got = ::getrandom(out.data() + filled, size - filled, 0);
    if (got > 0) filled += static_cast<size_t>(got);
    // got < 0: EINTR; getrandom blocks only until the pool is seeded at boot.
  }
  return out;
}

uint64_t EncryptedFileSize(uint64_t plain_bytes, size_t context_bytes, uint8_t chunk_log2) {
  const uint64_t chunk = uint64_t{1} << chunk_log2;
  const uint64_t chunks = plain_bytes == 0 ? 1 : (plain_bytes + chunk - 1) / chunk;
  return kFixedHeaderBytes + context_bytes + plain_bytes + chunks * kTagBytes;
}

absl::StatusOr<std::unique_ptr<EncryptingWriter>> EncryptingWriter::Create(const EncryptionKey& key,
                                                                           absl::string_view context,
                                                                           EncryptedSink sink,
                                                                           uint8_t chunk_log2) {
  if (context.size() > kMaxContextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("encryption context of ", context.size(), " bytes (at most ", kMaxContextBytes, ")"));
  }
  if (chunk_log2 < kMinChunkLog2 || chunk_log2 > kMaxChunkLog2) {
    return absl::InvalidArgumentError(absl::StrCat("chunk size 2^", chunk_log2, " is out of range"));
  }
  EncryptedFileHeader header;
  header.chunk_log2 = chunk_log2;
  header.key_id = key.id();
  header.salt = OsRandomBytes(kSaltBytes);
  header.context = std::string(context);
  absl::StatusOr<std::string> file_key = DeriveFileKey(key, header.salt);
  if (!file_key.ok()) return file_key.status();
  const std::string serialized = header.Serialize();
  absl::StatusOr<std::unique_ptr<ChunkCipher>> cipher = ChunkCipher::Create(*file_key, serialized);
  std::fill(file_key->begin(), file_key->end(), '\0');
  if (!cipher.ok()) return cipher.status();
  std::unique_ptr<EncryptingWriter> writer(new EncryptingWriter());
  writer->cipher_ = *std::move(cipher);
  writer->sink_ = std::move(sink);
  writer->chunk_size_ = header.chunk_size();
  writer->plain_.reserve(writer->chunk_size_);
  writer->sealed_.resize(writer->chunk_size_ + kTagBytes);
  if (absl::Status s = writer->Emit(reinterpret_cast<const uint8_t*>(serialized.data()), serialized.size());
      !s.ok()) {
    return s;
  }
  return writer;
}

absl::Status EncryptingWriter::Emit(const uint8_t* data, size_t size) {
  if (absl::Status s = sink_(data, size); !s.ok()) return s;
  encrypted_bytes_ += size;
  return absl::OkStatus();
}

absl::Status EncryptingWriter::SealBuffered(bool last) {
  if (absl::Status s = cipher_->Seal(next_index_, last, plain_.data(), plain_.size(), sealed_.data());
      !s.ok()) {
    return s;
  }
  ++next_index_;
  const size_t size = plain_.size() + kTagBytes;
  plain_.clear();
  return Emit(sealed_.data(), size);
}

absl::Status EncryptingWriter::Append(const void* data, size_t size) {
  if (finished_) return absl::FailedPreconditionError("EncryptingWriter::Append after Finish");
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    // A full chunk waits until more bytes come: only then is it not the last.
    if (plain_.size() == chunk_size_) {
      if (absl::Status s = SealBuffered(/*last=*/false); !s.ok()) return s;
    }
    const size_t n = std::min(size, chunk_size_ - plain_.size());
    plain_.insert(plain_.end(), p, p + n);
    p += n;
    size -= n;
  }
  return absl::OkStatus();
}

absl::Status EncryptingWriter::Finish() {
  if (finished_) return absl::FailedPreconditionError("EncryptingWriter::Finish twice");
  finished_ = true;
  return SealBuffered(/*last=*/true);
}

}  // namespace tunefleet::crypto
