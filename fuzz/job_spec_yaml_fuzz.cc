// Fuzzes the job-spec YAML reader (the CLI's `submit -f`) and, for specs it
// accepts, the defaults and the validation the coordinator applies next, and
// the --set override path with the same bytes as an assignment.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_file.h"
#include "common/job_spec_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = tunefleet::ParseJobSpec(text, "fuzz.yaml");
  if (spec.ok()) {
    (void)tunefleet::ValidateJobSpec(tunefleet::WithDefaults(*spec));
    (void)tunefleet::JobSpecToJson(*spec);
  }
  tunefleet::v1::JobSpec scratch;
  (void)tunefleet::ApplyJobSpecOverride(scratch, text);
  return 0;
}
