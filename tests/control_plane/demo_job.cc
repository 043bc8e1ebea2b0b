#include "tests/control_plane/demo_job.h"

#include "absl/strings/str_cat.h"
#include "common/job_spec_file.h"
#include "tests/testing/child_process.h"

namespace tunefleet::testing {

absl::StatusOr<v1::JobSpec> DemoJobSpec(const std::string& demo_data_binary, const std::string& data_dir,
                                        const std::vector<std::string>& assignments) {
  const RunResult made = RunCommand({demo_data_binary, "--out", data_dir});
  if (made.exit_code != 0) return absl::InternalError(absl::StrCat("making the demo data: ", made.output));
  auto spec = LoadJobSpecFile(TUNEFLEET_SOURCE_DIR "/demo/finetune.yaml");
  if (!spec.ok()) return spec.status();
  ResolveJobSpecPaths(*spec, TUNEFLEET_SOURCE_DIR "/demo");
  std::vector<std::string> all = {"dataset.path=" + data_dir + "/train.jsonl",
                                  "dataset.validation_path=" + data_dir + "/validation.jsonl"};
  all.insert(all.end(), assignments.begin(), assignments.end());
  for (const std::string& assignment : all) {
    if (auto s = ApplyJobSpecOverride(*spec, assignment); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(assignment, ": ", s.message()));
    }
  }
  return spec;
}

}  // namespace tunefleet::testing
