#include "coordinator/core/gang_supervisor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/exit_codes.h"

namespace tunefleet::coordinator {

bool IsLivePhase(v1::RankPhase phase) {
  return phase == v1::RANK_PHASE_STARTING || phase == v1::RANK_PHASE_RUNNING ||
         phase == v1::RANK_PHASE_CHECKPOINTING;
}

const GangAttempt& GangSupervisor::Start(const std::string& job, int64_t generation, std::vector<RankRuntime> ranks,
                                         std::string rendezvous_secret, absl::Time now) {
  End(job);
  GangAttempt& attempt = attempts_[job];
  attempt.generation = generation;
  attempt.start = now;
  attempt.ranks = std::move(ranks);
  for (RankRuntime& rank : attempt.ranks) rank.last_advance = now;
  attempt.rendezvous_secret = std::move(rendezvous_secret);
  Reindex(job, attempt);
  return attempt;
}

void GangSupervisor::End(const std::string& job) {
  auto it = attempts_.find(job);
  if (it == attempts_.end()) return;
  hang_due_.erase({it->second.hang_due, job});
  if (it->second.failure_pending) failures_due_.erase({it->second.failure_since + failure_timeout_, job});
  attempts_.erase(it);
}

const GangAttempt* GangSupervisor::Find(const std::string& job) const {
  auto it = attempts_.find(job);
  return it == attempts_.end() ? nullptr : &it->second;
}

GangAttempt* GangSupervisor::Mutable(const std::string& job) {
  auto it = attempts_.find(job);
  return it == attempts_.end() ? nullptr : &it->second;
}

void GangSupervisor::Report(const std::string& job, size_t rank, v1::RankPhase phase, int32_t exit_code,
                            int64_t step, absl::Time now) {
  GangAttempt* attempt = Mutable(job);
  if (attempt == nullptr || rank >= attempt->ranks.size()) return;
  RankRuntime& runtime = attempt->ranks[rank];
  runtime.acknowledged = true;
  runtime.phase = phase;
  runtime.exit_code = exit_code;
  if (step <= runtime.step) return;
  // Pace from the first step on (the first includes start-up), smoothed.
  if (runtime.step > 0) {
    const absl::Duration per_step = (now - runtime.last_advance) / (step - runtime.step);
    runtime.step_time =
        runtime.step_time == absl::ZeroDuration() ? per_step : (runtime.step_time * 7 + per_step * 3) / 10;
  }
  runtime.step = step;
  runtime.last_advance = now;
  Reindex(job, *attempt);
}

void GangSupervisor::SetRendezvousPort(const std::string& job, int32_t port) {
  if (GangAttempt* attempt = Mutable(job)) attempt->rendezvous_port = port;
}

absl::Duration GangSupervisor::Allowance(const RankRuntime& rank) const {
  // Before the first step: start-up (model load, rendezvous) gets its own
  // allowance; after: a multiple of the gang's pace, never below the floor.
  return rank.step == 0 ? hang_.startup : std::max(hang_.floor, rank.step_time * hang_.multiplier);
}

void GangSupervisor::Reindex(const std::string& job, GangAttempt& attempt) {
  hang_due_.erase({attempt.hang_due, job});
  attempt.hang_due = absl::InfiniteFuture();
  if (attempt.ranks.empty()) return;
  // The gang's progress is its most advanced rank's. Data-parallel ranks
  // step together (a hung rank stalls its peers in the next collective), and
  // only rank 0 writes step metrics: the others never report a step, so
  // judging each rank alone ended every gang after the start-up allowance.
  size_t lead = 0;
  for (size_t r = 1; r < attempt.ranks.size(); ++r) {
    const RankRuntime& rank = attempt.ranks[r];
    const RankRuntime& best = attempt.ranks[lead];
    if (rank.step > best.step || (rank.step == best.step && rank.last_advance > best.last_advance)) lead = r;
  }
  attempt.lead = lead;
  if (attempt.draining) return;  // a drain may stall steps
  const RankRuntime& rank = attempt.ranks[lead];
  attempt.hang_due = rank.last_advance + Allowance(rank);
  hang_due_.emplace(attempt.hang_due, job);
}

bool GangSupervisor::Drain(const std::string& job, absl::Time deadline) {
  GangAttempt* attempt = Mutable(job);
  if (attempt == nullptr || attempt->draining) return false;
  attempt->draining = true;
  attempt->drain_deadline = deadline;
  attempt->drain_asked.clear();
  Reindex(job, *attempt);  // out of the hang index
  return true;
}

bool GangSupervisor::AskDrain(const std::string& job, const std::string& worker) {
  GangAttempt* attempt = Mutable(job);
  return attempt != nullptr && attempt->draining && attempt->drain_asked.insert(worker).second;
}

std::optional<std::string> GangSupervisor::DrainComplete(const std::string& job) const {
  const GangAttempt* attempt = Find(job);
  if (attempt == nullptr || !attempt->draining) return std::nullopt;
  bool all_checkpointed = true;
  for (const RankRuntime& rank : attempt->ranks) {
    if (!rank.acknowledged || IsLivePhase(rank.phase)) return std::nullopt;  // still saving (or never started)
    all_checkpointed = all_checkpointed && rank.exit_code == exit_codes::kStoppedAfterCheckpoint;
  }
  return std::string(all_checkpointed
                         ? "drained: every rank checkpointed and exited 75"
                         : "drained: a rank exited without a drain checkpoint; resuming from the previous one");
}

bool GangSupervisor::DeferFailure(const std::string& job, const std::string& reporter, const std::string& detail,
                                  absl::Time now) {
  GangAttempt* attempt = Mutable(job);
  if (attempt == nullptr) return false;
  if (attempt->failure_pending) return true;  // the first failure is the one reported
  std::set<std::string> others;
  for (const RankRuntime& rank : attempt->ranks) {
    if (rank.worker != reporter) others.insert(rank.worker);
  }
  if (others.empty()) return false;  // one worker: nothing else can explain it
  attempt->failure_pending = true;
  attempt->failure_detail = detail;
  attempt->failure_since = now;
  attempt->failure_waits_for = std::move(others);
  failures_due_.emplace(now + failure_timeout_, job);
  return true;
}

std::optional<std::string> GangSupervisor::Heard(const std::string& job, const std::string& worker) {
  GangAttempt* attempt = Mutable(job);
  if (attempt == nullptr || !attempt->failure_pending) return std::nullopt;
  if (attempt->failure_waits_for.erase(worker) == 0 || !attempt->failure_waits_for.empty()) return std::nullopt;
  return attempt->failure_detail;
}

std::vector<GangSupervisor::Verdict> GangSupervisor::OverdueFailures(absl::Time now) const {
  std::vector<Verdict> out;
  // Overdue when now - failure_since > failure_timeout.
  for (auto it = failures_due_.begin(); it != failures_due_.end() && it->first < now; ++it) {
    out.push_back({it->second, v1::ATTEMPT_END_REASON_TRAINER_FAILED, attempts_.at(it->second).failure_detail});
  }
  return out;
}

std::vector<GangSupervisor::Verdict> GangSupervisor::HungGangs(absl::Time now) const {
  std::vector<Verdict> out;
  // Hung when now - last_advance > allowance.
  for (auto it = hang_due_.begin(); it != hang_due_.end() && it->first < now; ++it) {
    const GangAttempt& attempt = attempts_.at(it->second);
    const RankRuntime& rank = attempt.ranks[attempt.lead];
    const absl::Duration allowance = Allowance(rank);
    const absl::Duration stalled = now - rank.last_advance;
    const bool single = attempt.ranks.size() == 1;
    out.push_back(
        {it->second, v1::ATTEMPT_END_REASON_RANK_HUNG,
         absl::StrCat(single ? "rank " : "no rank of the gang (most advanced: rank ", attempt.lead, " on ", rank.worker,
                      single ? "" : ")", " made no progress past step ", rank.step, " for ",
                      absl::FormatDuration(absl::Trunc(stalled, absl::Milliseconds(10))), " (allowance ",
                      absl::FormatDuration(absl::Trunc(allowance, absl::Milliseconds(10))), ")")});
  }
  return out;
}

}  // namespace tunefleet::coordinator
