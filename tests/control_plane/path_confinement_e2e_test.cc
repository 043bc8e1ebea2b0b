// Hostile paths at a real coordinator (issue 15): refused at submit over
// gRPC, naming the field. The enforcement where files are opened, by a real
// trainer, is trainer_path_confinement_e2e_test.cc.

#include <stdlib.h>

#include <filesystem>
#include <fstream>

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

grpc::Status TryCreate(Cluster& cluster, const v1::JobSpec& spec) {
  grpc::ClientContext context;
  v1::CreateJobRequest request;
  *request.mutable_spec() = spec;
  v1::Job job;
  return cluster.jobs().CreateJob(&context, request, &job);
}

TEST(PathConfinementE2e, TheCoordinatorRefusesHostilePathsAtSubmitNamingTheField) {
  const std::string base = MakeTempDir("tunefleet-paths");
  const std::string root = base + "/root", outside = base + "/outside";
  fs::create_directories(root + "/models/m");
  fs::create_directories(outside);
  WriteText(root + "/train.jsonl", "{\"text\": \"hi\"}\n");
  WriteText(outside + "/secret.jsonl", "{\"text\": \"secret\"}\n");
  fs::create_symlink(outside + "/secret.jsonl", root + "/link.jsonl");
  fs::create_directory_symlink(outside, root + "/escape");

  ClusterOptions options;
  options.coordinator_flags.push_back("--allowed-path-roots=" + root);
  Cluster cluster(options);
  cluster.StartCoordinator();

  auto spec = [&] {
    v1::JobSpec s;
    s.mutable_model()->set_path(root + "/models/m");
    s.mutable_dataset()->set_path(root + "/train.jsonl");
    return s;
  };
  struct Case {
    std::string field, value, expected;
  };
  const std::vector<Case> cases = {
      {"model.path", "/etc/passwd", "model.path \"/etc/passwd\" is in /etc"},
      {"dataset.path", "/dev/zero", "dataset.path \"/dev/zero\" is in /dev"},
      {"dataset.path", root + "/../outside/secret.jsonl", "is outside the allowed roots [" + root + "]"},
      {"dataset.validation_path", root + "/link.jsonl",
       "dataset.validation_path \"" + root + "/link.jsonl\" resolves to \"" + outside + "/secret.jsonl\""},
      {"checkpoint.directory", root + "/escape/ckpt", "checkpoint.directory \"" + root + "/escape/ckpt\" resolves to"},
      {"export.directory", "/proc/self/cwd", "export.directory \"/proc/self/cwd\" is in /proc"},
  };
  for (const Case& c : cases) {
    v1::JobSpec s = spec();
    if (c.field == "model.path") s.mutable_model()->set_path(c.value);
    if (c.field == "dataset.path") s.mutable_dataset()->set_path(c.value);
    if (c.field == "dataset.validation_path") s.mutable_dataset()->set_validation_path(c.value);
    if (c.field == "checkpoint.directory") s.mutable_checkpoint()->set_directory(c.value);
    if (c.field == "export.directory") s.mutable_export_()->set_directory(c.value);
    const grpc::Status status = TryCreate(cluster, s);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field << " " << c.value;
    EXPECT_THAT(status.error_message(), HasSubstr(c.expected));
  }
  EXPECT_TRUE(TryCreate(cluster, spec()).ok());  // and a spec inside the root is taken
}


}  // namespace
}  // namespace tunefleet::testing
