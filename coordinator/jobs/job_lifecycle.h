#pragma once
// The job state machine, as pure functions: which transitions exist, and what
// happens to a job when one of its attempts ends (requeue with backoff, or
// FAILED once its own failures pass restart.max_restarts).
//
//   QUEUED --place--> RUNNING --all ranks succeed--> SUCCEEDED
//     ^                  |  \--cancel--> CANCELLED (also from QUEUED)
//     +---attempt ended--+---restarts spent--> FAILED

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tunefleet/v1/job.pb.h"

namespace tunefleet::jobs {

bool IsTerminal(v1::JobState state);

// OK when `from -> to` is an edge of the state machine above.
absl::Status CheckTransition(v1::JobState from, v1::JobState to);

// Failures of the job itself spend max_restarts; the infrastructure's
// (worker lost, drain, preemption) do not.
bool CountsAgainstRestarts(v1::AttemptEndReason reason);

struct BackoffPolicy {
  absl::Duration initial = absl::Seconds(2);
  absl::Duration max = absl::Minutes(2);
};

// Delay before attempt `next_attempt` (2, 3, ...): initial * 2^(next_attempt - 2), capped.
absl::Duration RestartBackoff(int64_t next_attempt, const BackoffPolicy& policy);

struct AttemptOutcome {
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  int64_t attempt = 0;         // the job's attempt number from now on
  int32_t restarts_used = 0;
  absl::Duration backoff;      // before the next attempt may be placed (QUEUED only)
  std::string failure_reason;  // FAILED only
  std::string event_message;   // what the job's event says
};

// What becomes of a RUNNING `job` whose current attempt ended for `reason`.
AttemptOutcome AfterAttempt(const v1::Job& job, v1::AttemptEndReason reason, const std::string& detail,
                            const BackoffPolicy& policy);

std::string ReasonName(v1::AttemptEndReason reason);

}  // namespace tunefleet::jobs
