// Checkpoints with real trainer processes (CPU, Gloo over a file://
// rendezvous, OMP_NUM_THREADS=1): kill -9 at a random step and resume
// bitwise-exactly; resume at another world size within the ZeRO tolerance;
// kill a rank mid-write; a flipped byte falls back to the previous
// checkpoint (and, encrypted, a tampered byte whose checksum was forged);
// a full filesystem fails the save cleanly; SIGUSR1 saves and
// goes on, SIGTERM saves and exits 75.
//
// Tolerance across world sizes: as in distributed_training_test.cc (ranks
// sum gradients in another order; 1e-6 at lr 1e-4 is ~10x the measured
// error and 100x below one AdamW step).

#include <gtest/gtest.h>

#include "common/exit_codes.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/child_process.h"
#include "trainer/checkpoint/crc32c.h"
#include "trainer/checkpoint/discovery.h"
#include "trainer/checkpoint/manifest.h"
#include "tests/testing/weight_diff.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::MaxWeightDiff;
using testing::FreshTestDirectory;
using testing::RunCommand;
using Env = std::vector<std::pair<std::string, std::string>>;

const std::string kTrainer = TUNEFLEET_BINARY_DIR "/trainer/tunefleet-trainer";
// The trainer with test hooks (tests/testing/trainer_with_test_hooks_main.cc).
const std::string kTrainerWithTestHooks = TUNEFLEET_BINARY_DIR "/tests/tunefleet-trainer-with-test-hooks";
const std::string kDemoData = TUNEFLEET_BINARY_DIR "/demo/tunefleet-demo-data";
const std::string kDemo = TUNEFLEET_SOURCE_DIR "/demo";
// Another world size sums a step's gradients in another order (one rank's
// backward over the whole batch, or halves plus an all-reduce): fp32 rounding
// only, a few ulps at the weights' scale (|w| <= ~1, ulp 1.2e-7) after AdamW
// divides by sqrt(v). Measured with torch 2.11: 6e-8 (N=2 -> 3), 1.06e-6
// (N=3 -> 1); same-world-size resumes are checked bitwise.
constexpr double kTolerance = 2e-6;
constexpr int kSteps = 6;
constexpr auto kRunTimeout = std::chrono::minutes(3);
const Env kEnv = {{"OMP_NUM_THREADS", "1"}};

std::string& DataDir() {
  static std::string dir;
  return dir;
}

// One run of the demo: `steps` steps, a checkpoint every `interval` steps
// (0: none) under <dir>/ckpt/test/, the final model exported to <dir>/export.
std::vector<std::string> TrainArgs(const std::string& dir, int steps, int interval, bool checkpoints = true) {
  std::vector<std::string> args = {kTrainer, "train", "--spec", kDemo + "/finetune.yaml", "--job-id", "test",
                                   "--log-every", "1", "--metrics-out", dir + "/metrics.jsonl"};
  for (const std::string& s : std::vector<std::string>{
           "dataset.path=" + DataDir() + "/train.jsonl", "dataset.validation_path=",
           "hyperparameters.max_steps=" + std::to_string(steps), "hyperparameters.micro_batch_size=1",
           "hyperparameters.global_batch_size=6", "hyperparameters.sequence_length=64",
           "hyperparameters.learning_rate=1e-4", "hyperparameters.warmup_steps=0", "hyperparameters.weight_decay=0.01",
           "parallelism.bucket_size_mb=1", "parallelism.collective_timeout_seconds=60",
           "checkpoint.interval_steps=" + std::to_string(interval), "export.directory=" + dir + "/export"}) {
    args.push_back("--set");
    args.push_back(s);
  }
  if (checkpoints) {
    args.push_back("--set");
    args.push_back("checkpoint.directory=" + dir + "/ckpt");
  }
  return args;
}

std::string JobDir(const std::string& dir) { return dir + "/ckpt/test"; }
std::string StepDir(const std::string& dir, int step) {
  char name[32];
  std::snprintf(name, sizeof(name), "/step-%08d", step);
  return JobDir(dir) + name;
}

// `args` run by the trainer with test hooks, whose checkpoint writer stops
// for good after its first bytes of step `step`'s save.
std::vector<std::string> WriterPausedAt(std::vector<std::string> args, int step) {
  args[0] = kTrainerWithTestHooks;
  args.insert(args.begin() + 1, {"--test-pause-checkpoint-write-at-step", std::to_string(step)});
  return args;
}

// N ranks meeting at a fresh FileStore; `args_of(rank, args)` may change each rank's command line.
using ArgsOf = std::function<std::vector<std::string>(int, std::vector<std::string>)>;
std::vector<ChildProcess> StartRanks(int world, const std::vector<std::string>& base, const std::string& rendezvous,
                                     const ArgsOf& args_of = {}) {
  std::vector<ChildProcess> ranks;
  fs::remove_all(rendezvous);
  fs::create_directories(fs::path(rendezvous).parent_path());
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args = base;
    if (world > 1) {
      for (const std::string& s : std::vector<std::string>{"--set", "resources.world_size=" + std::to_string(world), "--rank",
                                   std::to_string(r), "--world-size", std::to_string(world), "--rendezvous",
                                   "file://" + rendezvous}) {
        args.push_back(s);
      }
    }
    if (args_of) args = args_of(r, std::move(args));
    ranks.push_back(ChildProcess::Start(args, kEnv));
  }
  return ranks;
}

// Waits for every rank; the outputs, and an assertion failure on a wrong code.
std::vector<std::string> WaitAll(std::vector<ChildProcess>& ranks, int expected_code) {
  std::vector<std::string> outputs;
  for (size_t r = 0; r < ranks.size(); ++r) {
    auto code = ranks[r].Wait(kRunTimeout);
    outputs.push_back(ranks[r].output());
    EXPECT_TRUE(code.has_value()) << "rank " << r << " still running:\n" << outputs.back();
    if (code) {
      EXPECT_EQ(*code, expected_code) << "rank " << r << ":\n" << outputs.back();
    }
  }
  return outputs;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Polls a file (the metrics stream) until it holds `text`; false at the deadline.
bool WaitForFileText(const std::string& path, const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadAll(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class CheckpointResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    DataDir() = fs::temp_directory_path().string() + "/tunefleet_ckpt_data_" + std::to_string(::getpid());
    auto made = RunCommand({kDemoData, "--out", DataDir()});
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  static void TearDownTestSuite() { fs::remove_all(DataDir()); }

  // The uninterrupted run at N = 2 without checkpoints: its exported weights.
  static const std::string& Reference() {
    static std::string weights;
    if (!weights.empty()) return weights;
    const std::string dir = DataDir() + "/reference";
    auto ranks = StartRanks(2, TrainArgs(dir, kSteps, 0, /*checkpoints=*/false), dir + "/rendezvous");
    WaitAll(ranks, 0);
    return weights = dir + "/export/model.safetensors";
  }
};

// kill -9 one rank at a step drawn from a seeded RNG, kill the other (as the
// worker would), restart both: the result is bitwise the uninterrupted run's.
TEST_F(CheckpointResumeTest, KillNineAtRandomStepResumesBitwise) {
  const std::string reference = Reference();
  const std::string dir = FreshTestDirectory();
  std::mt19937 rng(20261126);
  const int kill_step = std::uniform_int_distribution<int>(3, kSteps - 1)(rng);
  const int victim = std::uniform_int_distribution<int>(0, 1)(rng);
  {
    auto ranks = StartRanks(2, TrainArgs(dir, kSteps, 2), dir + "/rendezvous");
    ASSERT_TRUE(WaitForFileText(dir + "/metrics.jsonl", "\"step\":" + std::to_string(kill_step) + ",", kRunTimeout))
        << ranks[0].output();
    ranks[victim].Signal(SIGKILL);
    ranks[1 - victim].Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  std::printf("killed rank %d at step %d\n", victim, kill_step);
  auto ranks = StartRanks(2, TrainArgs(dir, kSteps, 2), dir + "/rendezvous");
  const auto outputs = WaitAll(ranks, 0);
  EXPECT_NE(outputs[0].find("checkpoint: resumed from"), std::string::npos) << outputs[0];
  EXPECT_TRUE(ReadAll(dir + "/export/model.safetensors") == ReadAll(reference)) << "not bitwise equal";
  EXPECT_EQ(MaxWeightDiff(dir + "/export/model.safetensors", reference), 0.0);
}

// A checkpoint of step 3 at world size `from`, resumed at `to`: re-sliced
// optimizer shards; the result matches the N = 2 run within the tolerance.
void ResumeAtOtherWorldSize(const std::string& reference, int from, int to) {
  const std::string dir = FreshTestDirectory() + "/" + std::to_string(from) + "-to-" + std::to_string(to);
  {
    // The final save (step 6) blocks in its writer, so step 3 stays the newest commit.
    auto ranks = StartRanks(from, WriterPausedAt(TrainArgs(dir, kSteps, 3), kSteps), dir + "/rendezvous");
    ASSERT_TRUE(ranks[0].WaitForOutput("checkpoint: writer paused", kRunTimeout)) << ranks[0].output();
    for (auto& r : ranks) r.Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  ASSERT_TRUE(fs::exists(StepDir(dir, 3) + "/manifest.json"));
  auto ranks = StartRanks(to, TrainArgs(dir, kSteps, 3), dir + "/rendezvous");
  const auto outputs = WaitAll(ranks, 0);
  EXPECT_NE(outputs[0].find("resumed from " + StepDir(dir, 3)), std::string::npos) << outputs[0];
  EXPECT_NE(outputs[0].find("re-sliced"), std::string::npos) << outputs[0];
  const double diff = MaxWeightDiff(dir + "/export/model.safetensors", reference);
  EXPECT_LT(diff, kTolerance) << from << " -> " << to;
  std::printf("N=%d -> N=%d: max |weight - uninterrupted N=2 weight| = %.3g\n", from, to, diff);
}

TEST_F(CheckpointResumeTest, ResumeAtAnotherWorldSize) {
  ResumeAtOtherWorldSize(Reference(), 2, 3);
  ResumeAtOtherWorldSize(Reference(), 3, 1);
}

// bf16 weights with fp32 master weights: the checkpoint keeps the masters, so
// a run killed after its step-3 commit and resumed ends bitwise where the
// uninterrupted bf16 run ends.
TEST_F(CheckpointResumeTest, Bf16ResumesBitwiseFromItsFp32Masters) {
  auto bf16 = [](std::vector<std::string> args) {
    args.insert(args.end(), {"--set", "hyperparameters.precision=bf16"});
    return args;
  };
  const std::string base = FreshTestDirectory();  // (a second call would empty it)
  const std::string reference_dir = base + "/reference";
  {
    auto ranks = StartRanks(2, bf16(TrainArgs(reference_dir, kSteps, 0, /*checkpoints=*/false)),
                            reference_dir + "/rendezvous");
    WaitAll(ranks, 0);
  }
  const std::string dir = base + "/resumed";
  {
    auto ranks = StartRanks(2, WriterPausedAt(bf16(TrainArgs(dir, kSteps, 3)), kSteps), dir + "/rendezvous");
    ASSERT_TRUE(ranks[0].WaitForOutput("checkpoint: writer paused", kRunTimeout)) << ranks[0].output();
    for (auto& r : ranks) r.Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  auto ranks = StartRanks(2, bf16(TrainArgs(dir, kSteps, 3)), dir + "/rendezvous");
  const auto outputs = WaitAll(ranks, 0);
  EXPECT_NE(outputs[0].find("resumed from " + StepDir(dir, 3)), std::string::npos) << outputs[0];
  EXPECT_NE(outputs[0].find("bf16 weights, fp32 master"), std::string::npos) << outputs[0];
  const std::string reference = reference_dir + "/export/model.safetensors";
  EXPECT_TRUE(ReadAll(dir + "/export/model.safetensors") == ReadAll(reference))
      << "not bitwise equal: max diff " << MaxWeightDiff(dir + "/export/model.safetensors", reference);
}

// Rank 1's writer blocks inside the step-4 save; kill -9 both ranks there:
// step 4 never counts, the restart resumes from step 2 and still ends
// bitwise equal to the uninterrupted run.
TEST_F(CheckpointResumeTest, KillWhileWritingNeverLeavesALoadableCheckpoint) {
  const std::string reference = Reference();
  const std::string dir = FreshTestDirectory();
  {
    auto ranks = StartRanks(2, TrainArgs(dir, kSteps, 2), dir + "/rendezvous", [](int rank, auto args) {
      return rank == 1 ? WriterPausedAt(std::move(args), 4) : args;
    });
    ASSERT_TRUE(ranks[1].WaitForOutput("checkpoint: writer paused", kRunTimeout)) << ranks[1].output();
    for (auto& r : ranks) r.Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  EXPECT_TRUE(fs::exists(StepDir(dir, 2) + "/manifest.json"));
  EXPECT_TRUE(fs::exists(StepDir(dir, 4)));
  EXPECT_FALSE(fs::exists(StepDir(dir, 4) + "/manifest.json"));
  auto ranks = StartRanks(2, TrainArgs(dir, kSteps, 2), dir + "/rendezvous");
  const auto outputs = WaitAll(ranks, 0);
  EXPECT_NE(outputs[0].find("resumed from " + StepDir(dir, 2)), std::string::npos) << outputs[0];
  EXPECT_TRUE(ReadAll(dir + "/export/model.safetensors") == ReadAll(reference)) << "not bitwise equal";
}

// A flipped byte in the newest checkpoint's optimizer shard: the restart
// names the file, falls back to the previous checkpoint, moves the damaged
// one aside and ends where the undisturbed run ended (one process).
TEST_F(CheckpointResumeTest, FlippedByteFallsBackNamingTheFile) {
  const std::string dir = FreshTestDirectory();
  auto first = RunCommand(TrainArgs(dir, 4, 2), kRunTimeout);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string undisturbed = ReadAll(dir + "/export/model.safetensors");
  const std::string shard = StepDir(dir, 4) + "/optim-rank-00000-of-00001.safetensors";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << shard;
    f.seekg(-100, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(-100, std::ios::end);
    f.write(&c, 1);
  }
  auto second = RunCommand(TrainArgs(dir, 4, 2), kRunTimeout);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("optim-rank-00000-of-00001.safetensors"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("resumed from " + StepDir(dir, 2)), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("moved damaged checkpoint " + StepDir(dir, 4)), std::string::npos) << second.output;
  EXPECT_TRUE(fs::exists(StepDir(dir, 4) + "/manifest.json"));  // saved again
  EXPECT_TRUE(ReadAll(dir + "/export/model.safetensors") == undisturbed) << "not bitwise equal";
}

// Encryption at rest across the real trainer: an encrypted run's decrypted
// export is bitwise the plaintext run's; a byte changed in the newest
// shard with the manifest's CRC32C forged to match (so only AES-GCM can
// tell) is named, the trainer falls back to step 2 and ends bitwise where
// it ended before; a wrong key fails the start naming both key ids.
TEST_F(CheckpointResumeTest, EncryptedCheckpointsResumeBitwiseAndFallBackOnTamper) {
  const std::string dir = FreshTestDirectory();
  const std::string plain_dir = dir + "/plain";
  const std::string enc_dir = dir + "/encrypted";
  fs::create_directories(plain_dir);
  fs::create_directories(enc_dir);
  auto plain = RunCommand(TrainArgs(plain_dir, 4, 2), kRunTimeout);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  auto write_key = [&](const std::string& path, const std::string& hex) {
    std::ofstream(path) << "# test key\n" << hex << "\n";
    fs::permissions(path, fs::perms::owner_read, fs::perm_options::replace);
  };
  const std::string key = dir + "/key";
  write_key(key, std::string(64, 'a'));
  auto encrypted_args = [&](std::vector<std::string> args, const std::string& key_file) {
    args.insert(args.end(), {"--encryption-key-file", key_file});
    return args;
  };
  auto first = RunCommand(encrypted_args(TrainArgs(enc_dir, 4, 2), key), kRunTimeout);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string shard = StepDir(enc_dir, 4) + "/optim-rank-00000-of-00001.safetensors";
  for (const std::string& file : {shard, enc_dir + "/export/model.safetensors", enc_dir + "/export/config.json"}) {
    EXPECT_EQ(ReadAll(file).substr(0, 8), "TFCRYPT\n") << file;
  }
  auto decrypt = [&](const std::string& out) {
    auto run = RunCommand({kTrainer, "decrypt", "--key-file", key, "--in", enc_dir + "/export", "--out", out});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return ReadAll(out + "/model.safetensors");
  };
  const std::string undisturbed = decrypt(dir + "/decrypted-1");
  EXPECT_TRUE(undisturbed == ReadAll(plain_dir + "/export/model.safetensors")) << "encryption changed the result";

  // Tamper, then forge the manifest's checksum as an adversary would.
  std::string bytes = ReadAll(shard);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
  absl::StatusOr<Manifest> manifest = ReadManifest(StepDir(enc_dir, 4));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  for (FileRecord& file : manifest->files) {
    if (file.name == "optim-rank-00000-of-00001.safetensors") file.crc32c = Crc32c(bytes.data(), bytes.size());
  }
  std::ofstream(StepDir(enc_dir, 4) + "/manifest.json", std::ios::trunc) << ManifestToJson(*manifest);

  auto second = RunCommand(encrypted_args(TrainArgs(enc_dir, 4, 2), key), kRunTimeout);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find(shard + ": chunk"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("does not authenticate"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("resumed from " + StepDir(enc_dir, 2)), std::string::npos) << second.output;
  EXPECT_TRUE(decrypt(dir + "/decrypted-2") == undisturbed) << "not bitwise equal";

  // `export` of an encrypted checkpoint writes an encrypted export; decrypted,
  // its weights are the run's.
  auto exported = RunCommand({kTrainer, "export", "--checkpoint", StepDir(enc_dir, 4), "--base-model",
                              kDemo + "/base_model", "--out", dir + "/exported", "--encryption-key-file", key});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_EQ(ReadAll(dir + "/exported/model.safetensors").substr(0, 8), "TFCRYPT\n");
  auto plain_export = RunCommand(
      {kTrainer, "decrypt", "--key-file", key, "--in", dir + "/exported", "--out", dir + "/exported-plain"});
  ASSERT_EQ(plain_export.exit_code, 0) << plain_export.output;
  EXPECT_EQ(MaxWeightDiff(dir + "/exported-plain/model.safetensors", dir + "/decrypted-2/model.safetensors"), 0.0);

  const std::string wrong = dir + "/wrong-key";
  write_key(wrong, std::string(64, 'b'));
  auto third = RunCommand(encrypted_args(TrainArgs(enc_dir, 6, 2), wrong), kRunTimeout);
  EXPECT_EQ(third.exit_code, 1) << third.output;
  EXPECT_NE(third.output.find("wrong key"), std::string::npos) << third.output;
}

// A size-limited tmpfs holds one checkpoint (~14 MB) but not two: the second
// save fails with ENOSPC naming the file, the trainer stops with that error
// (no silent training without checkpoints), and the first still exports.
TEST_F(CheckpointResumeTest, FullFilesystemFailsTheSaveAndKeepsThePreviousOne) {
  const std::string dir = FreshTestDirectory();
  fs::create_directories(dir + "/ckpt");
  auto mounted = RunCommand({"/bin/mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", dir + "/ckpt"});
  if (mounted.exit_code != 0) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << mounted.output;
  struct Unmount {
    std::string path;
    ~Unmount() { RunCommand({"/bin/umount", "-l", path}); }
  } unmount{dir + "/ckpt"};
  auto run = RunCommand(TrainArgs(dir, kSteps, 2), kRunTimeout);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("checkpoint of step 4 failed"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("No space left on device"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(StepDir(dir, 4) + "/manifest.json"));
  auto exported = RunCommand({kTrainer, "export", "--checkpoint", JobDir(dir), "--base-model", kDemo + "/base_model",
                              "--out", dir + "/from-step-2"});
  EXPECT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("step-00000002"), std::string::npos) << exported.output;
  EXPECT_TRUE(fs::exists(dir + "/from-step-2/model.safetensors"));
}

// SIGUSR1 to rank 1 alone: both ranks save the same step and go on. Then
// SIGTERM to rank 1 alone: both save the next boundary and exit 75.
TEST_F(CheckpointResumeTest, SignalsSaveAndStopAgreedAcrossRanks) {
  const std::string dir = FreshTestDirectory();
  auto ranks = StartRanks(2, TrainArgs(dir, 1000, 0), dir + "/rendezvous");
  const std::string metrics = dir + "/metrics.jsonl";
  ASSERT_TRUE(WaitForFileText(metrics, "\"step\":2,", kRunTimeout)) << ranks[0].output();
  ranks[1].Signal(SIGUSR1);
  ASSERT_TRUE(WaitForFileText(metrics, "\"event\":\"checkpoint\"", kRunTimeout)) << ranks[0].output();
  ASSERT_TRUE(ranks[0].Wait(std::chrono::milliseconds(1)) == std::nullopt) << "SIGUSR1 must not stop training";
  ranks[1].Signal(SIGTERM);
  const auto outputs = WaitAll(ranks, 75);
  const std::string text = ReadAll(metrics);
  EXPECT_NE(text.find("\"event\":\"stopped\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"stall_seconds\""), std::string::npos) << text;
  const auto at = outputs[0].find("committing the checkpoint of step ");
  ASSERT_NE(at, std::string::npos) << outputs[0];
  const int stopped = std::stoi(outputs[0].substr(at + std::strlen("committing the checkpoint of step ")));
  EXPECT_NE(outputs[1].find("committing the checkpoint of step " + std::to_string(stopped)), std::string::npos)
      << outputs[1];
  EXPECT_TRUE(fs::exists(StepDir(dir, stopped) + "/manifest.json"));
}

// LoRA with dropout (so torch's RNG matters): a restart from step 2 ends
// bitwise where the undisturbed run ended, and `export` of the last
// checkpoint as a PEFT adapter equals the trainer's own export.
TEST_F(CheckpointResumeTest, LoraResumesExactlyAndExportsAsPeftAdapter) {
  const std::string dir = FreshTestDirectory();
  std::vector<std::string> args = TrainArgs(dir, 4, 2);
  for (const char* s : {"method.type=lora", "method.lora.rank=4", "method.lora.dropout=0.1"}) {
    args.push_back("--set");
    args.push_back(s);
  }
  auto first = RunCommand(args, kRunTimeout);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string undisturbed = ReadAll(dir + "/export/adapter_model.safetensors");
  ASSERT_FALSE(undisturbed.empty());
  fs::remove_all(StepDir(dir, 4));
  auto second = RunCommand(args, kRunTimeout);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from " + StepDir(dir, 2)), std::string::npos) << second.output;
  EXPECT_TRUE(ReadAll(dir + "/export/adapter_model.safetensors") == undisturbed) << "not bitwise equal";

  auto exported = RunCommand({kTrainer, "export", "--checkpoint", StepDir(dir, 4), "--base-model",
                              kDemo + "/base_model", "--out", dir + "/peft"});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_TRUE(fs::exists(dir + "/peft/adapter_config.json"));
  EXPECT_EQ(MaxWeightDiff(dir + "/peft/adapter_model.safetensors", dir + "/export/adapter_model.safetensors"), 0.0);
  auto merged = RunCommand({kTrainer, "export", "--checkpoint", JobDir(dir), "--base-model", kDemo + "/base_model",
                            "--out", dir + "/merged", "--format", "merged_model"});
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  EXPECT_TRUE(fs::exists(dir + "/merged/model.safetensors"));
}

// QLoRA (model.quantize: nf4): checkpoints hold the adapters only and a
// restart re-reads and re-quantises the base, so a restart from step 2 still
// ends bitwise where the undisturbed run ended; a restart that would put the
// adapters over another base is refused; `export` rebuilds the NF4 base for
// the adapter and for the merged model.
TEST_F(CheckpointResumeTest, Nf4LoraResumesExactlyAndRefusesAnotherBase) {
  const std::string dir = FreshTestDirectory();
  std::vector<std::string> args = TrainArgs(dir, 4, 2);
  for (const char* s : {"method.type=lora", "method.lora.rank=4", "method.lora.dropout=0.1", "model.quantize=nf4"}) {
    args.push_back("--set");
    args.push_back(s);
  }
  auto first = RunCommand(args, kRunTimeout);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("LoRA over an nf4 base"), std::string::npos) << first.output;
  const std::string undisturbed = ReadAll(dir + "/export/adapter_model.safetensors");
  ASSERT_FALSE(undisturbed.empty());
  fs::remove_all(StepDir(dir, 4));
  auto second = RunCommand(args, kRunTimeout);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resumed from " + StepDir(dir, 2)), std::string::npos) << second.output;
  EXPECT_TRUE(ReadAll(dir + "/export/adapter_model.safetensors") == undisturbed) << "not bitwise equal";

  // The same adapters over the float base would be another model.
  fs::remove_all(StepDir(dir, 4));
  std::vector<std::string> plain = args;
  plain.back() = "model.quantize=none";
  auto refused = RunCommand(plain, kRunTimeout);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("base quantised as nf4"), std::string::npos) << refused.output;

  auto exported = RunCommand({kTrainer, "export", "--checkpoint", StepDir(dir, 2), "--base-model",
                              kDemo + "/base_model", "--out", dir + "/peft"});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_TRUE(fs::exists(dir + "/peft/adapter_config.json"));
  auto merged = RunCommand({kTrainer, "export", "--checkpoint", StepDir(dir, 2), "--base-model",
                            kDemo + "/base_model", "--out", dir + "/merged", "--format", "merged_model"});
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  // Merged over the dequantised base: every projection moved off the float
  // base by the quantisation error (the adapters alone move only a little).
  EXPECT_GT(MaxWeightDiff(dir + "/merged/model.safetensors", kDemo + "/base_model/model.safetensors"), 1e-3);
}

// A newer generation fences off an older trainer: the newer one recorded
// itself in the job's attempt fence, so the older one is refused before it
// resumes (exit 77, "attempt fenced") and commits nothing. The job folder
// comes from $TUNEFLEET_JOB (jobs/<id>) here, not --job-id.
TEST_F(CheckpointResumeTest, OlderGenerationCannotCommitOverNewer) {
  const std::string dir = FreshTestDirectory();
  auto args_for = [&](int steps) {
    std::vector<std::string> args = TrainArgs(dir, steps, 2);
    args.erase(args.begin() + 4, args.begin() + 6);  // --job-id test
    return args;
  };
  auto run = [&](int steps, const std::string& generation) {
    ChildProcess child = ChildProcess::Start(
        args_for(steps), {{"OMP_NUM_THREADS", "1"}, {"TUNEFLEET_JOB", "jobs/test"},
                          {"TUNEFLEET_GENERATION", generation}, {"TUNEFLEET_ATTEMPT", "0"}});
    auto code = child.Wait(kRunTimeout);
    return std::make_pair(code.value_or(-1), child.output());
  };
  auto newer = run(2, "2");
  ASSERT_EQ(newer.first, 0) << newer.second;
  ASSERT_TRUE(fs::exists(StepDir(dir, 2) + "/manifest.json")) << newer.second;
  auto older = run(4, "1");
  EXPECT_EQ(older.first, exit_codes::kAttemptFenced) << older.second;
  EXPECT_NE(older.second.find("attempt fenced"), std::string::npos) << older.second;
  EXPECT_FALSE(fs::exists(StepDir(dir, 4) + "/manifest.json"));
}

// A multi-task job (two tasks, dynamic inverse-validation-loss mixing that
// moves the mix at each evaluation): kill -9 after a checkpoint, resume, and
// the result is bitwise the uninterrupted run's, so the checkpoint restored
// each task's position in its order and the mix probabilities. Resumed at
// another world size it stays within the ZeRO tolerance (the same batches).
std::vector<std::string> MultiTaskArgs(const std::string& dir, int steps, int interval, bool checkpoints = true) {
  fs::create_directories(dir);
  const std::string spec = dir + "/multitask.yaml";
  std::ofstream(spec) << "model: {path: " << kDemo << "/base_model}\n"
                      << "dataset:\n  tasks:\n"
                      << "    - {name: sums, path: " << DataDir() << "/train.jsonl, validation_fraction: 0.1}\n"
                      << "    - {name: held, path: " << DataDir()
                      << "/validation.jsonl, validation_fraction: 0.2, weight: 0.5, loss_weight: 2}\n"
                      << "  mixing: {strategy: inverse_validation_loss, min_probability: 0.2}\n"
                      << "evaluation: {interval_steps: 2, max_batches: 2}\n";
  std::vector<std::string> args = TrainArgs(dir, steps, interval, checkpoints);
  args[3] = spec;  // --spec
  // TrainArgs' dataset overrides name the single-file fields: unset them here.
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind("dataset.path=", 0) == 0) args[i] = "dataset.packing=true";
    if (args[i].rfind("dataset.validation_path=", 0) == 0) args[i] = "dataset.packing=true";
  }
  return args;
}

TEST_F(CheckpointResumeTest, MultiTaskMixResumesBitwiseAndAtAnotherWorldSize) {
  const std::string root = FreshTestDirectory();  // once: it empties the test's folder
  const std::string reference_dir = root + "/reference";
  {
    auto ranks = StartRanks(2, MultiTaskArgs(reference_dir, kSteps, 0, /*checkpoints=*/false),
                            reference_dir + "/rendezvous");
    const auto outputs = WaitAll(ranks, 0);
    EXPECT_NE(outputs[0].find("2 tasks"), std::string::npos) << outputs[0];
    EXPECT_NE(outputs[0].find("task held eval loss"), std::string::npos) << outputs[0];
  }
  const std::string reference = reference_dir + "/export/model.safetensors";
  const std::string metrics = ReadAll(reference_dir + "/metrics.jsonl");
  for (const char* key : {"\"task_train_loss/sums\"", "\"task_tokens/held\"", "\"task_examples/sums\"",
                          "\"task_eval_loss/held\"", "\"task_mix_probability/sums\""}) {
    EXPECT_NE(metrics.find(key), std::string::npos) << key << " missing from\n" << metrics;
  }

  const std::string dir = root + "/killed";
  {
    auto ranks = StartRanks(2, MultiTaskArgs(dir, kSteps, 2), dir + "/rendezvous");
    ASSERT_TRUE(WaitForFileText(dir + "/metrics.jsonl", "\"step\":5,", kRunTimeout)) << ranks[0].output();
    for (auto& r : ranks) r.Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  {
    auto ranks = StartRanks(2, MultiTaskArgs(dir, kSteps, 2), dir + "/rendezvous");
    const auto outputs = WaitAll(ranks, 0);
    EXPECT_NE(outputs[0].find("checkpoint: resumed from"), std::string::npos) << outputs[0];
  }
  EXPECT_TRUE(ReadAll(dir + "/export/model.safetensors") == ReadAll(reference)) << "not bitwise equal";

  // The step-4 checkpoint (after the step-4 evaluation moved the mix), resumed by one rank.
  const std::string other = root + "/2-to-1";
  {
    auto ranks = StartRanks(2, WriterPausedAt(MultiTaskArgs(other, kSteps, 4), kSteps), other + "/rendezvous");
    ASSERT_TRUE(ranks[0].WaitForOutput("checkpoint: writer paused", kRunTimeout)) << ranks[0].output();
    for (auto& r : ranks) r.Signal(SIGKILL);
    for (auto& r : ranks) r.Wait(std::chrono::seconds(30));
  }
  ASSERT_TRUE(fs::exists(StepDir(other, 4) + "/manifest.json"));
  auto one = StartRanks(1, MultiTaskArgs(other, kSteps, 4), other + "/rendezvous");
  const auto outputs = WaitAll(one, 0);
  EXPECT_NE(outputs[0].find("resumed from " + StepDir(other, 4)), std::string::npos) << outputs[0];
  const double diff = MaxWeightDiff(other + "/export/model.safetensors", reference);
  EXPECT_LT(diff, kTolerance);
  std::printf("multi-task N=2 -> N=1: max |weight - uninterrupted N=2 weight| = %.3g\n", diff);
}

}  // namespace
}  // namespace tunefleet
