#include "worker/supervisor/trainer_launch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

namespace tunefleet::supervisor {
namespace {

using ::testing::ElementsAre;

std::map<std::string, std::string> Env(const ProcessSpec& spec) { return {spec.env.begin(), spec.env.end()}; }

v1::Assignment TwoOfFour() {
  v1::Assignment a;
  a.set_job("jobs/demo");
  a.set_attempt(2);
  a.set_generation(9);
  a.set_world_size(4);
  a.add_ranks(2);
  a.add_ranks(3);
  a.mutable_rendezvous()->set_host("10.0.0.5");
  a.mutable_rendezvous()->set_port(29509);
  a.set_rendezvous_secret("s3cret");
  a.add_devices();
  a.add_devices();
  return a;
}

TEST(TrainerLaunch, AttemptDirectoryIsPerJobAndAttempt) {
  EXPECT_EQ(AttemptDirectory("/w", "jobs/demo", 2), "/w/jobs/demo/attempt-2");
}

TEST(TrainerLaunch, EncryptionKeyFileTravelsAsAPathInTheEnvironmentOnly) {
  const ProcessSpec spec = TrainerProcess("/bin/trainer", TwoOfFour(), 1, "/w/a", {}, "/etc/tunefleet/keys/checkpoint.key");
  EXPECT_EQ(Env(spec)["TUNEFLEET_ENCRYPTION_KEY_FILE"], "/etc/tunefleet/keys/checkpoint.key");
  for (const std::string& arg : spec.argv) EXPECT_EQ(arg.find("key"), std::string::npos) << arg;
  EXPECT_EQ(Env(TrainerProcess("/bin/trainer", TwoOfFour(), 1, "/w/a")).count("TUNEFLEET_ENCRYPTION_KEY_FILE"), 0u);
}

TEST(TrainerLaunch, TheWorkersRootsGoToEveryTrainer) {
  TrainerPathPolicy paths{{"/shared", "/srv/models"}, {"/w/jobs"}, false};
  const ProcessSpec spec = TrainerProcess("/bin/trainer", TwoOfFour(), 0, "/w/a", paths);
  EXPECT_THAT(spec.argv, ElementsAre("/bin/trainer", "train", "--spec", "/w/a/spec.json", "--metrics-out",
                                     "/w/a/rank-2.metrics.jsonl", "--allowed-root", "/shared", "--allowed-root",
                                     "/srv/models", "--denied-path", "/w/jobs"));
  paths.allow_any_path = true;
  EXPECT_EQ(TrainerProcess("/bin/trainer", TwoOfFour(), 0, "/w/a", paths).argv.back(), "--allow-any-path");
}

TEST(TrainerLaunch, ConfinementIsOnByDefaultBeneathTheWorkDir) {
  const std::string work_dir = ::testing::TempDir() + "/worker-default-roots";
  std::filesystem::create_directories(work_dir);
  auto policy = WorkerPathPolicy({}, work_dir);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(policy->allowed_roots, ElementsAre(std::filesystem::path(work_dir).lexically_normal().string()));
  EXPECT_THAT(policy->denied_paths, ElementsAre(work_dir + "/jobs"));
  EXPECT_FALSE(policy->allow_any_path);
  EXPECT_THAT(TrainerPathFlags(*policy), ElementsAre("--allowed-root", policy->allowed_roots[0], "--denied-path",
                                                     work_dir + "/jobs"));
}

TEST(TrainerLaunch, SystemTreesAreNeverRootsAndTheFlagIsNamed) {
  for (const char* root : {"/", "/etc", "/proc", "/dev", "/dev/shm", "/sys/fs"}) {
    TrainerPathPolicy given;
    given.allowed_roots = {root};
    auto policy = WorkerPathPolicy(given, "/w");
    ASSERT_FALSE(policy.ok()) << root;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << root;
    EXPECT_THAT(std::string(policy.status().message()), ::testing::StartsWith("--allowed-root: allowed root \"")) << root;
    EXPECT_THAT(std::string(policy.status().message()), ::testing::HasSubstr("which can never be a root")) << root;
  }
}

TEST(TrainerLaunch, MultiRankGetsTorchrunEnvironment) {
  const ProcessSpec spec = TrainerProcess("/bin/trainer", TwoOfFour(), 1, "/w/a");
  EXPECT_THAT(spec.argv, ElementsAre("/bin/trainer", "train", "--spec", "/w/a/spec.json", "--metrics-out",
                                     "/w/a/rank-3.metrics.jsonl"));
  EXPECT_EQ(spec.log_path, "/w/a/rank-3.log");
  auto env = Env(spec);
  EXPECT_EQ(env["RANK"], "3");
  EXPECT_EQ(env["WORLD_SIZE"], "4");
  EXPECT_EQ(env["LOCAL_RANK"], "1");
  EXPECT_EQ(env["MASTER_ADDR"], "10.0.0.5");
  EXPECT_EQ(env["MASTER_PORT"], "29509");
  EXPECT_EQ(env["TUNEFLEET_GENERATION"], "9");
  EXPECT_EQ(env["TUNEFLEET_RENDEZVOUS_SECRET"], "s3cret");
  EXPECT_EQ(env.count("CUDA_VISIBLE_DEVICES"), 0u);
  EXPECT_EQ(env.count("CUDA_DEVICE_ORDER"), 0u);
}

TEST(TrainerLaunch, SingleRankHasNoRendezvousAndGpusAreVisible) {
  v1::Assignment a;
  a.set_job("jobs/one");
  a.set_world_size(1);
  a.add_ranks(0);
  a.add_devices()->add_gpu_indices(1);
  a.mutable_devices(0)->add_gpu_indices(3);
  auto env = Env(TrainerProcess("/bin/trainer", a, 0, "/w/b"));
  EXPECT_EQ(env.count("RANK"), 0u);
  EXPECT_EQ(env["CUDA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(env["CUDA_DEVICE_ORDER"], "PCI_BUS_ID");  // the worker's indices are NVML's
}

}  // namespace
}  // namespace tunefleet::supervisor
