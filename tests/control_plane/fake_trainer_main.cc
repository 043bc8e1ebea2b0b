// A stand-in for tunefleet-trainer in control-plane tests: same command line
// (`train --spec FILE --metrics-out FILE`), same environment, no libtorch, and
// a behaviour chosen by the spec's display_name, e.g. "fake:steps=3,step_ms=20":
//   steps=N          step lines to print (default 3)
//   step_ms=M        delay per step (default 10)
//   exit=C           exit code at the end (default 0)
//   fail_attempts=K  exit 3 while TUNEFLEET_ATTEMPT <= K, then behave as told
//   hang             never finish (until signalled)
//   stall_at=S       stop making progress after step S (a hung rank)
//   ckpt_every=N     checkpoint every N steps
//   eval_every=N     an "eval" event every N steps
//   uncommitted_at=S a "checkpoint" event at step S with "committed":0 and no
//                    manifest (a save whose commit failed)
//   alloc_mb=M       at start, allocate and touch M MiB in 64 MiB pieces (a
//                    runaway rank): refused memory exits 71, as the trainer does
// Its metrics lines carry the real trainer's fields (trainer/metrics/metrics_stream.h).
// The trainer's signal contract: SIGUSR1 -> checkpoint at the next step and go
// on; SIGTERM -> checkpoint at the next step and exit 75. A checkpoint writes
// <checkpoint.directory>/<job id>/step-N/manifest.json and a committed
// "checkpoint" event. On start it resumes after the newest such step.
// Like the real trainer it is fenced by attempt (trainer/checkpoint/
// attempt_fence.h): it records itself as the job's newest attempt before
// choosing what to resume from, commits under the fence's lock, ignores
// checkpoints the fence rules out, and exits kAttemptFenced when refused. It
// appends "g<generation> a<attempt> step <N>" to <job dir>/trained-steps.log
// for each step it finishes, so tests can tell which attempt trained what.
// It prints its launch environment first, so tests can check what a rank got.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/exit_codes.h"
#include "common/job_spec_file.h"
#include "common/out_of_memory.h"
#include "common/fs/atomic_file.h"
#include "trainer/checkpoint/attempt_fence.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/manifest.h"

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::atomic<bool> checkpoint_requested{false};
std::atomic<bool> stop_requested{false};

extern "C" void OnSignal(int signal) {
  checkpoint_requested = true;
  if (signal == SIGTERM) stop_requested = true;
}

int64_t NewestCheckpoint(const std::string& job_dir, const std::optional<tunefleet::AttemptFence>& fence) {
  int64_t newest = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(job_dir, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t step = 0;
    if (name.rfind("step-", 0) == 0 && absl::SimpleAtoi(name.substr(5), &step) &&
        std::filesystem::exists(entry.path() / "manifest.json")) {
      auto manifest = tunefleet::ReadManifest(entry.path().string());
      if (fence && manifest.ok() && tunefleet::FencedOut(*fence, *manifest)) {
        std::cout << "fake-trainer: ignoring " << name << ": committed by a stale attempt" << std::endl;
        continue;
      }
      newest = std::max(newest, step);
    }
  }
  return newest;
}

}  // namespace

int main(int argc, char** argv) {
  tunefleet::ExitWhenMemoryIsRefused();
  std::string spec_path, metrics_path;
  if (argc < 2 || std::string(argv[1]) != "train") {
    std::cerr << "fake-trainer: usage: train --spec FILE [--metrics-out FILE]\n";
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--spec") spec_path = argv[i + 1];
    if (flag == "--metrics-out") metrics_path = argv[i + 1];
  }
  auto spec = tunefleet::LoadJobSpecFile(spec_path);
  if (!spec.ok()) {
    std::cerr << "fake-trainer: " << spec.status() << "\n";
    return 2;
  }
  std::map<std::string, std::string> options;
  std::string name = spec->display_name();
  if (name.rfind("fake:", 0) == 0) name = name.substr(5);
  for (absl::string_view item : absl::StrSplit(name, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    options[kv.first] = kv.second;
  }
  auto number = [&](const std::string& key, int fallback) {
    int value = fallback;
    if (options.count(key)) (void)absl::SimpleAtoi(options[key], &value);
    return value;
  };
  std::cout << "fake-trainer pid " << getpid() << " job " << Env("TUNEFLEET_JOB") << " attempt "
            << Env("TUNEFLEET_ATTEMPT") << " generation " << Env("TUNEFLEET_GENERATION") << " RANK=" << Env("RANK")
            << " WORLD_SIZE=" << Env("WORLD_SIZE") << " LOCAL_RANK=" << Env("LOCAL_RANK")
            << " MASTER_ADDR=" << Env("MASTER_ADDR") << " MASTER_PORT=" << Env("MASTER_PORT")
            << " CUDA_VISIBLE_DEVICES=" << Env("CUDA_VISIBLE_DEVICES") << std::endl;

  int attempt = 0;
  (void)absl::SimpleAtoi(Env("TUNEFLEET_ATTEMPT"), &attempt);
  if (attempt <= number("fail_attempts", 0)) {
    std::cout << "fake-trainer: failing attempt " << attempt << " on purpose" << std::endl;
    return 3;
  }
  if (const int alloc_mb = number("alloc_mb", 0); alloc_mb > 0) {
    std::vector<std::unique_ptr<char[]>> held;
    for (int done = 0; done < alloc_mb; done += 64) {
      held.emplace_back(new char[64 << 20]);
      std::memset(held.back().get(), 1, 64 << 20);  // resident, not just reserved
    }
    std::cout << "fake-trainer: holding " << alloc_mb << " MiB" << std::endl;
  }
  const int steps = number("steps", 3);
  const int step_ms = number("step_ms", 10);
  const int stall_at = number("stall_at", -1);
  signal(SIGTERM, OnSignal);
  signal(SIGUSR1, OnSignal);
  std::string job = Env("TUNEFLEET_JOB");
  job = job.substr(job.rfind('/') + 1);
  const tunefleet::CheckpointRoot checkpoint_root{spec->checkpoint().directory(), job};
  const std::string job_dir = checkpoint_root.JobDirectory();
  int64_t generation = 0;
  (void)absl::SimpleAtoi(Env("TUNEFLEET_GENERATION"), &generation);
  auto fence = tunefleet::AdvanceAttemptFence(checkpoint_root, generation, attempt);
  if (!fence.ok()) {
    std::cout << "fake-trainer: " << fence.status().message() << std::endl;
    return tunefleet::IsAttemptFenced(fence.status()) ? tunefleet::exit_codes::kAttemptFenced : 1;
  }
  const int64_t resume = NewestCheckpoint(job_dir, *fence);
  if (resume > 0) std::cout << "fake-trainer: resuming after step " << resume << std::endl;
  std::ofstream metrics(metrics_path, std::ios::app);
  for (int64_t step = resume + 1; step <= steps || options.count("hang"); ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    if (stall_at >= 0 && step > stall_at) {
      --step;  // stuck: no step is ever finished again (until killed or asked to stop)
      if (!stop_requested) continue;
    }
    if (step <= steps) std::cout << "step " << step << "/" << steps << " loss 1.0" << std::endl;
    std::ofstream(job_dir + "/trained-steps.log", std::ios::app)
        << "g" << generation << " a" << attempt << " step " << step << "\n";
    const double loss = 2.0 - static_cast<double>(step) / (steps + 1);
    metrics << R"({"event":"step","step":)" << step << R"(,"total_steps":)" << steps << R"(,"train_loss":)" << loss
            << R"(,"learning_rate":0.0001,"grad_norm":0.5,"tokens_per_second":1000})" << "\n" << std::flush;
    if (number("eval_every", 0) > 0 && step % number("eval_every", 0) == 0) {
      metrics << R"({"event":"eval","step":)" << step << R"(,"eval_loss":)" << loss + 0.1 << "}\n" << std::flush;
    }
    if (step == number("uncommitted_at", -1)) {
      metrics << R"({"event":"checkpoint","step":)" << step << R"(,"path":")" << job_dir << "/step-" << step
              << R"(","committed":0,"save_seconds":0.01,"bytes":0,"stall_seconds":0.002})" << "\n" << std::flush;
    }
    if (number("ckpt_every", 0) > 0 && step % number("ckpt_every", 0) == 0) checkpoint_requested = true;
    if (checkpoint_requested.exchange(false)) {
      const std::string dir = job_dir + "/step-" + std::to_string(step);
      std::filesystem::create_directories(dir);
      // The trainer's manifest format (trainer/checkpoint/manifest.h), which
      // the coordinator lists checkpoints with.
      tunefleet::Manifest manifest;
      manifest.job = job;
      manifest.step = step;
      manifest.save_id = "g" + std::to_string(generation) + "-a" + std::to_string(attempt) + "-step-" +
                         std::to_string(step) + "-0";
      manifest.loss = loss;
      manifest.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
      const absl::Status committed = tunefleet::CommitUnderAttemptFence(job_dir, generation, attempt, [&] {
        return tunefleet::WriteFileAtomically(dir + "/manifest.json", tunefleet::ManifestToJson(manifest));
      });
      if (!committed.ok()) {
        std::cout << "fake-trainer: step " << step << " not committed: " << committed.message() << std::endl;
        return tunefleet::IsAttemptFenced(committed) ? tunefleet::exit_codes::kAttemptFenced : 1;
      }
      metrics << R"({"event":"checkpoint","step":)" << step << R"(,"path":")" << dir
              << R"(","committed":1,"save_seconds":0.01,"bytes":4096,"stall_seconds":0.002})" << "\n" << std::flush;
      std::cout << "fake-trainer: checkpoint at step " << step << std::endl;
      if (stop_requested) {
        std::cout << "fake-trainer: stopped after a committed checkpoint, exit 75" << std::endl;
        return tunefleet::exit_codes::kStoppedAfterCheckpoint;
      }
    }
  }
  metrics << R"({"event":"done","step":)" << steps << "}\n" << std::flush;
  const int code = number("exit", 0);
  std::cout << "fake-trainer: done, exit " << code << std::endl;
  return code;
}
