// Hostile paths at a real trainer (issue 15): it refuses a link that leads
// out of its roots even when the coordinator's check was not there to stop
// it, because it resolves every path beneath the roots when it opens it;
// and devices, FIFOs and system files as data.

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"

namespace tunefleet::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string MakeTempDir(const std::string& stem) {
  std::string templ = (fs::path(::testing::TempDir()) / (stem + "-XXXXXX")).lexically_normal().string();
  const char* made = mkdtemp(templ.data());
  EXPECT_NE(made, nullptr);
  return templ;
}

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The same attacks, straight at a trainer: no coordinator in the way.
TEST(PathConfinementE2e, TheTrainerRefusesEscapesDevicesAndFifosWhereItOpensThem) {
  const std::string base = MakeTempDir("tunefleet-trainer-paths");
  const std::string root = base + "/root", outside = base + "/outside";
  fs::create_directories(root);
  fs::create_directories(outside);
  fs::copy(TUNEFLEET_SOURCE_DIR "/demo/base_model", root + "/model", fs::copy_options::recursive);
  fs::copy(TUNEFLEET_SOURCE_DIR "/demo/base_model", outside + "/model", fs::copy_options::recursive);
  WriteText(outside + "/train.jsonl", "{\"text\": \"the secret\"}\n");
  WriteText(root + "/train.jsonl", "{\"text\": \"fine\"}\n");
  fs::create_symlink(outside + "/train.jsonl", root + "/link.jsonl");
  fs::create_directory_symlink(outside + "/model", root + "/model-link");
  fs::create_directory_symlink(outside, root + "/escape");
  ASSERT_EQ(mkfifo((root + "/fifo.jsonl").c_str(), 0600), 0);

  struct Case {
    std::string assignment, expected;
  };
  const std::vector<Case> cases = {
      {"dataset.path=" + root + "/link.jsonl", "dataset.path \"" + root + "/link.jsonl\" leads outside the allowed roots"},
      {"model.path=" + root + "/model-link", "model.path \"" + root + "/model-link\" leads outside the allowed roots"},
      {"checkpoint.directory=" + root + "/escape/ckpt", "checkpoint.directory \"" + root + "/escape/ckpt\" leads outside"},
      {"export.directory=" + root + "/escape/out", "export.directory \"" + root + "/escape/out\" leads outside"},
      {"dataset.path=/dev/zero", "dataset.path \"/dev/zero\" is in /dev"},
      {"model.path=/etc/passwd", "model.path \"/etc/passwd\" is in /etc"},
      {"dataset.path=" + root + "/fifo.jsonl", "is a FIFO, not a regular file"},
      {"dataset.path=" + root + "/../outside/train.jsonl", "is outside the allowed roots"},
  };
  WriteText(root + "/spec.yaml", "model: {path: " + root + "/model}\ndataset: {path: " + root +
                                     "/train.jsonl}\nhyperparameters: {max_steps: 1, sequence_length: 16}\n");
  for (const Case& c : cases) {
    const RunResult run = RunCommand({TUNEFLEET_TRAINER_PATH, "train", "--spec", root + "/spec.yaml", "--set",
                                      c.assignment, "--allowed-root", root},
                                     std::chrono::minutes(1));
    EXPECT_EQ(run.exit_code, 1) << c.assignment << "\n" << run.output;
    EXPECT_THAT(run.output, HasSubstr(c.expected)) << c.assignment;
  }
  EXPECT_FALSE(fs::exists(outside + "/ckpt"));
  EXPECT_FALSE(fs::exists(outside + "/out"));
}

// Through coordinator and worker, with the coordinator's check bypassed (it
// has no roots, so a link to an ordinary folder passes it): the worker's
// trainer still refuses the link, and the job fails saying why.
TEST(PathConfinementE2e, AWorkersTrainerRefusesALinkOutOfItsRootsThatTheCoordinatorLetThrough) {
  const std::string outside = MakeTempDir("tunefleet-outside");
  ClusterOptions options;
  options.trainer = TUNEFLEET_TRAINER_PATH;
  Cluster cluster(options);
  for (const std::string& root : {cluster.dir(), std::string(TUNEFLEET_SOURCE_DIR), std::string(TUNEFLEET_BINARY_DIR)}) {
    if (outside.rfind(root + "/", 0) == 0) GTEST_SKIP() << "the temp dir is inside a root: " << outside;
  }
  WriteText(outside + "/train.jsonl", "{\"text\": \"another team's data\"}\n");
  fs::create_symlink(outside + "/train.jsonl", cluster.dir() + "/train.jsonl");

  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  v1::CreateJobRequest request;
  auto* spec = request.mutable_spec();
  spec->mutable_model()->set_path(TUNEFLEET_SOURCE_DIR "/demo/base_model");
  spec->mutable_dataset()->set_path(cluster.dir() + "/train.jsonl");
  spec->mutable_hyperparameters()->set_max_steps(1);
  spec->mutable_restart()->set_max_restarts(0);
  const v1::Job job = cluster.WaitForState(cluster.Submit(request).name(), v1::JOB_STATE_FAILED, std::chrono::minutes(2));
  const std::string log =
      ReadText(cluster.WorkerDir("w1") + "/jobs/" + job.name().substr(5) + "/attempt-1/rank-0.log");
  EXPECT_THAT(log, HasSubstr("dataset.path \"" + cluster.dir() + "/train.jsonl\" leads outside the allowed roots"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("another team's data")));
}
}  // namespace
}  // namespace tunefleet::testing
