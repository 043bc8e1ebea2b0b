// Fuzzes what the coordinator does with a SubmitJob request's spec: the
// wire bytes of a JobSpec (any protobuf a client sends), the defaults, and
// the validation that must refuse every bad field by name, never crash.
#include <cstddef>
#include <cstdint>

#include "common/job_spec_defaults.h"
#include "common/job_spec_validation.h"
#include "tunefleet/v1/job_spec.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tunefleet::v1::JobSpec spec;
  if (!spec.ParseFromArray(data, static_cast<int>(size))) return 0;
  (void)tunefleet::ValidateJobSpec(spec);
  (void)tunefleet::ValidateJobSpec(tunefleet::WithDefaults(spec));
  return 0;
}
