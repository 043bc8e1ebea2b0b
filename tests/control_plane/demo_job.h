#pragma once
// The demo fine-tuning job as the e2e tests that run the real trainer
// submit it: demo/finetune.yaml (its paths resolved) on demo data generated
// for the test, with the test's own `--set` assignments on top.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet::testing {

// Runs `demo_data_binary --out data_dir`, then points dataset.path and
// dataset.validation_path at what it made and applies `assignments`.
absl::StatusOr<v1::JobSpec> DemoJobSpec(const std::string& demo_data_binary, const std::string& data_dir,
                                        const std::vector<std::string>& assignments = {});

}  // namespace tunefleet::testing
