// checkpoint_test_writer: saves one checkpoint of synthetic state, for the
// process tests (which kill it mid-save) and as a benchmark.
//
//   checkpoint_test_writer --root DIR --job NAME --step N [--numel N]
//       [--world-size W --rank R] [--wait-for-ranks-ms MS]
//       [--pause-in FILE --pause-after-bytes B] [--pause-before-commit]
//   checkpoint_test_writer --bench --root DIR [--state-mb MB]
//
// Pausing prints "PAUSED ..." and blocks until killed. Exit 0 and
// "COMMITTED step N" (rank 0) or "WROTE step N" (others) on success; 1 and
// the error otherwise.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "trainer/checkpoint/async_saver.h"
#include "trainer/checkpoint/checkpoint_test_state.h"
#include "trainer/checkpoint/commit.h"
#include "trainer/checkpoint/loader.h"
#include "trainer/checkpoint/rank_writer.h"

namespace tunefleet {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string root;
  std::string job = "job";
  int64_t step = 1;
  int64_t numel = 1 << 20;
  int world_size = 1;
  int rank = 0;
  int64_t wait_for_ranks_ms = 0;
  std::string pause_in;
  uint64_t pause_after_bytes = 0;
  bool pause_before_commit = false;
  bool bench = false;
  int64_t state_mb = 100;
};

[[noreturn]] void PauseForever(const std::string& where) {
  std::cout << "PAUSED " << where << std::endl;
  while (true) ::pause();
}

bool Parse(int argc, char** argv, Flags& f) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--root") f.root = value();
    else if (arg == "--job") f.job = value();
    else if (arg == "--step") f.step = std::atoll(value().c_str());
    else if (arg == "--numel") f.numel = std::atoll(value().c_str());
    else if (arg == "--world-size") f.world_size = std::atoi(value().c_str());
    else if (arg == "--rank") f.rank = std::atoi(value().c_str());
    else if (arg == "--wait-for-ranks-ms") f.wait_for_ranks_ms = std::atoll(value().c_str());
    else if (arg == "--pause-in") f.pause_in = value();
    else if (arg == "--pause-after-bytes") f.pause_after_bytes = std::strtoull(value().c_str(), nullptr, 10);
    else if (arg == "--pause-before-commit") f.pause_before_commit = true;
    else if (arg == "--bench") f.bench = true;
    else if (arg == "--state-mb") f.state_mb = std::atoll(value().c_str());
    else {
      std::cerr << "unknown flag " << arg << "\n";
      return false;
    }
  }
  if (f.root.empty()) std::cerr << "--root is required\n";
  return !f.root.empty();
}

int Save(const Flags& f) {
  const CheckpointRoot root{f.root, f.job};
  const RankCheckpointState state = testing::MakeRankState(f.rank, f.world_size, f.numel, f.step, 1);
  WriteProgressHook hook;
  if (!f.pause_in.empty()) {
    hook = [&f](const std::string& name, uint64_t written) {
      if (name == f.pause_in && written >= f.pause_after_bytes) {
        PauseForever(absl::StrCat("in ", name, " after ", written, " bytes"));
      }
      return absl::OkStatus();
    };
  }
  absl::StatusOr<RankFilesRecord> written = WriteRankFiles(root, state, hook);
  if (!written.ok()) {
    std::cout << "WRITE FAILED: " << written.status() << std::endl;
    return 1;
  }
  if (f.pause_before_commit) PauseForever("before commit");
  if (f.rank != 0) {
    std::cout << "WROTE step " << f.step << std::endl;
    return 0;
  }
  CommitRequest request;
  request.step = f.step;
  request.world_size = f.world_size;
  request.save_id = state.save_id;
  request.wait_for_ranks = std::chrono::milliseconds(f.wait_for_ranks_ms);
  absl::StatusOr<Manifest> manifest = CommitManifest(root, request);
  if (!manifest.ok()) {
    std::cout << "COMMIT FAILED: " << manifest.status() << std::endl;
    return 1;
  }
  std::cout << "COMMITTED step " << f.step << std::endl;
  return 0;
}

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The disk's own sequential write speed: the same bytes, one file, fsync.
double DiskWriteGBps(const std::string& dir, uint64_t bytes) {
  const std::string path = dir + "/disk-speed.bin";
  std::vector<char> block(8 << 20, 1);
  const auto start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  for (uint64_t done = 0; done < bytes; done += block.size()) {
    if (::write(fd, block.data(), block.size()) < 0) break;
  }
  ::fsync(fd);
  ::close(fd);
  const double seconds = Seconds(start);
  ::unlink(path.c_str());
  return static_cast<double>(bytes) / seconds / 1e9;
}

int Bench(const Flags& f) {
  // 12 bytes per element of optimizer state + 4 (master copy in weights) ~ 16.
  const int64_t numel = f.state_mb * 1000 * 1000 / 16;
  const CheckpointRoot root{f.root, "bench"};
  std::filesystem::remove_all(root.JobDirectory());
  RankCheckpointState state = testing::MakeRankState(0, 1, numel, 1, 1);
  // Full-size weights, as a real rank 0 writes: one fp32 tensor of numel.
  state.model_weights = {{"model.weight", state.optimizer_shard->master.clone()}};
  AsyncSaverOptions options;
  options.root = root;
  AsyncCheckpointSaver saver(options);

  auto start = Clock::now();
  absl::StatusOr<std::optional<Manifest>> sync = SaveCheckpoint(root, state, [] { return absl::OkStatus(); });
  const double sync_seconds = Seconds(start);
  if (!sync.ok()) {
    std::cout << "save failed: " << sync.status() << std::endl;
    return 1;
  }
  uint64_t bytes = 0;
  for (const FileRecord& file : (*sync)->files) bytes += file.size_bytes;

  state.trainer_state.step = 2;
  if (absl::Status s = saver.Start(state); !s.ok()) return 1;
  const double stall = saver.last_stall_seconds();
  const absl::Status async_status = saver.Wait();
  std::optional<SaveOutcome> outcome = saver.TakeCompleted();
  if (!async_status.ok() || !outcome) {
    std::cout << "async save failed: " << async_status << std::endl;
    return 1;
  }

  ResumeRequest request;
  start = Clock::now();
  absl::StatusOr<LoadedCheckpoint> loaded = LoadNewestValid(root, request);
  const double load_seconds = Seconds(start);
  if (!loaded.ok()) {
    std::cout << "load failed: " << loaded.status() << std::endl;
    return 1;
  }
  const double disk = DiskWriteGBps(f.root, bytes);
  std::filesystem::remove_all(root.JobDirectory());
  std::printf(
      "state %.1f MB (%lld flat elements, weights + master + 2 moments)\n"
      "sync save  %.3f s  %.2f GB/s (write, CRC32C, fsync, commit)\n"
      "async save stall %.4f s (snapshot to host), background write %.3f s\n"
      "load       %.3f s  %.2f GB/s (verify CRC32C + read, page cache warm)\n"
      "disk       %.2f GB/s sequential write + fsync of the same bytes\n",
      static_cast<double>(bytes) / 1e6, static_cast<long long>(numel), sync_seconds,
      static_cast<double>(bytes) / sync_seconds / 1e9, stall, outcome->timings.write_seconds, load_seconds,
      static_cast<double>(bytes) / load_seconds / 1e9, disk);
  return 0;
}

}  // namespace
}  // namespace tunefleet

int main(int argc, char** argv) {
  tunefleet::Flags flags;
  if (!tunefleet::Parse(argc, argv, flags)) return 2;
  return flags.bench ? tunefleet::Bench(flags) : tunefleet::Save(flags);
}
