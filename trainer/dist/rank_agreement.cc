#include "trainer/dist/rank_agreement.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<std::vector<double>> RankAgreement::Sum(const std::vector<double>& values, const std::string& what) {
  if (collectives_ == nullptr) return values;
  return collectives_->SumDoubles(values, what);
}

absl::StatusOr<StepDecision> RankAgreement::AgreeOnStep(const StepVote& mine) {
  const bool finite = std::isfinite(mine.loss_sum);
  std::vector<double> values = {mine.stop ? 1.0 : 0.0, mine.save_now ? 1.0 : 0.0, mine.save_failed ? 1.0 : 0.0,
                                finite ? 0.0 : 1.0, finite ? mine.loss_sum : 0.0, static_cast<double>(mine.tokens)};
  // A multi-task step's per-task losses ride in the same collective.
  values.insert(values.end(), mine.task_loss_sums.begin(), mine.task_loss_sums.end());
  auto sums = Sum(values, "the step's decision, loss and token counts");
  if (!sums.ok()) return sums.status();
  const std::vector<double>& s = *sums;
  StepDecision decision;
  decision.stop = s[0] > 0;
  decision.save_now = s[1] > 0;
  decision.save_failed = s[2] > 0;
  decision.nan_seen = s[3] > 0;
  decision.loss_sum = decision.nan_seen ? std::nan("") : s[4];
  decision.tokens = static_cast<int64_t>(s[5]);
  decision.task_loss_sums.assign(s.begin() + 6, s.end());
  return decision;
}

absl::Status RankAgreement::AllSucceeded(const absl::Status& mine, const std::string& what) {
  auto failures = Sum({mine.ok() ? 0.0 : 1.0}, absl::StrCat("whether ", what, " succeeded on every rank"));
  if (!failures.ok()) return failures.status();
  if (!mine.ok()) return mine;
  if ((*failures)[0] > 0) return absl::AbortedError(absl::StrCat(what, " failed on another rank"));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RankAgreement::LeaderValue(int64_t value, const std::string& what) {
  auto sums = Sum({leader() ? static_cast<double>(value) : 0.0}, what);
  if (!sums.ok()) return sums.status();
  return static_cast<int64_t>((*sums)[0]);
}

absl::Status RankAgreement::SameOnEveryRank(int64_t value, const std::string& what) {
  auto sums = Sum({static_cast<double>(value)}, what);
  if (!sums.ok()) return sums.status();
  if ((*sums)[0] != static_cast<double>(value) * world_size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", rank(), " has ", what, " ", value, " but the ranks disagree"));
  }
  return absl::OkStatus();
}

}  // namespace tunefleet
