// What encryption at rest costs a checkpoint file: write and read MB/s of
// one checkpoint-sized buffer, plaintext vs AES-256-GCM, through the same
// code the trainer uses (WriteFileWithChecksum: CRC32C + .tmp + fsync +
// rename; reading: VerifyFile's CRC32C pass, then the plaintext: the file
// itself, or decrypted into a memory file), beside the disk's own
// sequential write + fsync of the same bytes and AES-GCM alone in memory,
// all in one run. Reads drop the file from the page cache first
// (POSIX_FADV_DONTNEED), so they read the disk, not memory.
//
//   build/bench/encryption_bench [--dir DIR (default $TMPDIR)] [--mb 256] [--repeat 3]

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/encrypted_writer.h"
#include "common/crypto/encryption_key.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/encrypted_files.h"

namespace {

using Clock = std::chrono::steady_clock;
using tunefleet::crypto::KeyRing;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "encryption_bench: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

void DropFromCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// The disk alone: write(2) in 8 MiB pieces, then fsync (dd conv=fsync).
double DiskWrite(const std::string& path, const std::string& data) {
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Check(absl::ErrnoToStatus(errno, "open " + path));
  for (size_t at = 0; at < data.size();) {
    const ssize_t n = ::write(fd, data.data() + at, std::min<size_t>(data.size() - at, size_t{8} << 20));
    if (n <= 0) Check(absl::ErrnoToStatus(errno, "write " + path));
    at += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  return Seconds(start);
}

double DiskRead(const std::string& path) {
  DropFromCache(path);
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::vector<char> buffer(size_t{8} << 20);
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  ::close(fd);
  return Seconds(start);
}

double CheckpointWrite(const std::string& dir, const std::string& data, const KeyRing* keys,
                       tunefleet::FileRecord* record) {
  tunefleet::FileEncryption encryption{keys != nullptr ? &keys->current() : nullptr,
                                       tunefleet::CheckpointFileContext("bench", "shard.safetensors")};
  const auto start = Clock::now();
  absl::StatusOr<tunefleet::FileRecord> written = tunefleet::WriteFileWithChecksum(
      dir, "shard.safetensors", data, {}, keys != nullptr ? &encryption : nullptr);
  const double seconds = Seconds(start);
  Check(written.status());
  *record = *written;
  return seconds;
}

// As the loader reads: verify the CRC32C of the bytes on disk, then get the
// plaintext (decrypting into a memory file when encrypted) and read it all.
double CheckpointRead(const std::string& dir, const tunefleet::FileRecord& record, const KeyRing* keys) {
  DropFromCache(dir + "/" + record.name);
  const auto start = Clock::now();
  Check(tunefleet::VerifyFile(dir, record));
  absl::StatusOr<int> fd = tunefleet::OpenPlaintext(
      dir + "/" + record.name, keys, tunefleet::CheckpointFileContext("bench", "shard.safetensors"));
  Check(fd.status());
  std::vector<char> buffer(size_t{8} << 20);
  while (::read(*fd, buffer.data(), buffer.size()) > 0) {
  }
  ::close(*fd);
  return Seconds(start);
}

double EncryptInMemory(const std::string& data, const KeyRing& keys) {
  uint64_t sink_bytes = 0;
  const auto start = Clock::now();
  auto writer =
      tunefleet::crypto::EncryptingWriter::Create(keys.current(), "bench", [&](const uint8_t*, size_t n) {
        sink_bytes += n;
        return absl::OkStatus();
      });
  Check(writer.status());
  Check((*writer)->Append(data.data(), data.size()));
  Check((*writer)->Finish());
  return Seconds(start);
}

double CpuSeconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Wall seconds of the fastest run, and the CPU seconds (user + system, this
// process) of that run: the CPU cost holds on a loaded machine, where wall
// time mostly measures the neighbours.
struct Timing {
  double wall = 1e30;
  double cpu = 0;
};

Timing Best(int repeat, const std::function<double()>& run) {
  Timing best;
  for (int i = 0; i < repeat; ++i) {
    const double cpu_start = CpuSeconds();
    const double wall = run();
    const double cpu = CpuSeconds() - cpu_start;
    if (wall < best.wall) best = Timing{wall, cpu};
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  size_t mb = 256;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--mb")
      mb = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--repeat")
      repeat = std::atoi(argv[i + 1]);
  }
  dir = absl::StrCat(dir, "/encryption-bench-", ::getpid());
  Check(::mkdir(dir.c_str(), 0700) == 0 ? absl::OkStatus() : absl::ErrnoToStatus(errno, "mkdir " + dir));
  std::string data = tunefleet::crypto::OsRandomBytes(mb << 20);  // incompressible, like fp32 state
  std::vector<tunefleet::crypto::EncryptionKey> key_list;
  key_list.push_back(*tunefleet::crypto::EncryptionKey::FromBytes(tunefleet::crypto::OsRandomBytes(32)));
  const KeyRing keys = *KeyRing::Create(std::move(key_list));
  const double size_mb = static_cast<double>(data.size()) / (1 << 20);

  tunefleet::FileRecord plain_record, encrypted_record;
  const Timing disk_w = Best(repeat, [&] { return DiskWrite(dir + "/raw.bin", data); });
  const Timing disk_r = Best(repeat, [&] { return DiskRead(dir + "/raw.bin"); });
  const Timing plain_w = Best(repeat, [&] { return CheckpointWrite(dir, data, nullptr, &plain_record); });
  const Timing plain_r = Best(repeat, [&] { return CheckpointRead(dir, plain_record, nullptr); });
  const Timing enc_w = Best(repeat, [&] { return CheckpointWrite(dir, data, &keys, &encrypted_record); });
  const Timing enc_r = Best(repeat, [&] { return CheckpointRead(dir, encrypted_record, &keys); });
  const Timing gcm = Best(repeat, [&] { return EncryptInMemory(data, keys); });

  const double gb = size_mb / 1024;
  std::printf("%.0f MiB buffer in %s, best of %d (by wall time)\n\n", size_mb, dir.c_str(), repeat);
  std::printf(
      "| what | write MB/s | read MB/s | write CPU s/GB | read CPU s/GB |\n"
      "|------|-----------:|----------:|---------------:|--------------:|\n");
  const auto row = [&](const char* what, const Timing& w, const Timing* r) {
    std::printf("| %s | %.0f | %s | %.2f | %s |\n", what, size_mb / w.wall,
                r != nullptr ? absl::StrCat(static_cast<int>(size_mb / r->wall)).c_str() : "",
                w.cpu / gb, r != nullptr ? absl::StrFormat("%.2f", r->cpu / gb).c_str() : "");
  };
  row("disk alone (write + fsync; read after dropping the cache)", disk_w, &disk_r);
  row("checkpoint file, plaintext (CRC32C, .tmp, fsync, rename; verify + read)", plain_w, &plain_r);
  row("checkpoint file, AES-256-GCM (same + encrypt; verify + decrypt to memory + read)", enc_w, &enc_r);
  row("AES-256-GCM alone, in memory (no I/O)", gcm, nullptr);
  std::printf("\nencrypted file: %llu bytes for %zu (+%.4f%%)\n",
              static_cast<unsigned long long>(encrypted_record.size_bytes), data.size(),
              100.0 * (static_cast<double>(encrypted_record.size_bytes) - static_cast<double>(data.size())) /
                  static_cast<double>(data.size()));
  for (const char* name : {"/raw.bin", "/shard.safetensors"}) ::unlink((dir + name).c_str());
  ::rmdir(dir.c_str());
  return 0;
}
