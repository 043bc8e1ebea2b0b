#include "coordinator/jobs/job_lifecycle.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tunefleet::jobs {

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED || state == v1::JOB_STATE_CANCELLED;
}

absl::Status CheckTransition(v1::JobState from, v1::JobState to) {
  bool ok = false;
  switch (from) {
    case v1::JOB_STATE_UNSPECIFIED:
      ok = to == v1::JOB_STATE_QUEUED;
      break;
    case v1::JOB_STATE_QUEUED:
      ok = to == v1::JOB_STATE_RUNNING || to == v1::JOB_STATE_CANCELLED || to == v1::JOB_STATE_FAILED;
      break;
    case v1::JOB_STATE_RUNNING:
      ok = to == v1::JOB_STATE_QUEUED || to == v1::JOB_STATE_SUCCEEDED || to == v1::JOB_STATE_FAILED ||
           to == v1::JOB_STATE_CANCELLED;
      break;
    default:
      ok = false;  // terminal states are final
  }
  if (ok) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("job cannot go from ", v1::JobState_Name(from), " to ", v1::JobState_Name(to)));
}

bool CountsAgainstRestarts(v1::AttemptEndReason reason) {
  return reason == v1::ATTEMPT_END_REASON_TRAINER_FAILED || reason == v1::ATTEMPT_END_REASON_RANK_HUNG;
}

absl::Duration RestartBackoff(int64_t next_attempt, const BackoffPolicy& policy) {
  absl::Duration delay = policy.initial;
  for (int64_t i = 2; i < next_attempt && delay < policy.max; ++i) delay *= 2;
  return std::min(delay, policy.max);
}

std::string ReasonName(v1::AttemptEndReason reason) {
  switch (reason) {
    case v1::ATTEMPT_END_REASON_COMPLETED: return "completed";
    case v1::ATTEMPT_END_REASON_CANCELLED: return "cancelled";
    case v1::ATTEMPT_END_REASON_TRAINER_FAILED: return "trainer failed";
    case v1::ATTEMPT_END_REASON_RANK_HUNG: return "rank hung";
    case v1::ATTEMPT_END_REASON_WORKER_LOST: return "worker lost";
    case v1::ATTEMPT_END_REASON_DRAINED: return "drained";
    default: return "unknown";
  }
}

AttemptOutcome AfterAttempt(const v1::Job& job, v1::AttemptEndReason reason, const std::string& detail,
                            const BackoffPolicy& policy) {
  AttemptOutcome out;
  out.attempt = job.attempt();
  out.restarts_used = job.restarts_used();
  const std::string what = absl::StrCat("attempt ", job.attempt(), " ended (", ReasonName(reason), "): ", detail);
  if (reason == v1::ATTEMPT_END_REASON_COMPLETED) {
    out.state = v1::JOB_STATE_SUCCEEDED;
    out.event_message = absl::StrCat("attempt ", job.attempt(), " completed: every rank succeeded");
    return out;
  }
  if (reason == v1::ATTEMPT_END_REASON_CANCELLED) {
    out.state = v1::JOB_STATE_CANCELLED;
    out.event_message = absl::StrCat("cancelled: ", detail);
    return out;
  }
  if (CountsAgainstRestarts(reason)) {
    ++out.restarts_used;
    if (out.restarts_used > job.spec().restart().max_restarts()) {
      out.state = v1::JOB_STATE_FAILED;
      out.failure_reason = absl::StrCat(what, "; restarts spent (max_restarts ", job.spec().restart().max_restarts(),
                                        ")");
      out.event_message = out.failure_reason;
      return out;
    }
  }
  out.state = v1::JOB_STATE_QUEUED;
  out.attempt = job.attempt() + 1;
  out.backoff = RestartBackoff(out.attempt, policy);
  out.event_message = absl::StrCat(what, "; requeued for attempt ", out.attempt, " after ",
                                   absl::FormatDuration(out.backoff), " (restarts used ", out.restarts_used, "/",
                                   job.spec().restart().max_restarts(), ")");
  return out;
}

}  // namespace tunefleet::jobs
