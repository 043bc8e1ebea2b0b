#include "cli/commands/progress_line.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/output/resources.h"
#include "common/metric_keys.h"

namespace tunefleet::cli {

void ProgressLine::SeeStep(int64_t step, absl::Time now) {
  if (step <= step_) return;
  if (!first_seen_) first_seen_ = {{step, now}};
  step_ = step;
  last_step_time_ = now;
}

void ProgressLine::Update(const v1::Job& job, absl::Time now) {
  state_ = StateName(job.state());
  const auto& p = job.progress();
  SeeStep(p.step(), now);
  if (p.total_steps() > 0) total_ = p.total_steps();
  if (p.train_loss() > 0) loss_ = p.train_loss();
  if (p.eval_loss() > 0) eval_loss_ = p.eval_loss();
  if (p.tokens_per_second() > 0) tokens_per_second_ = p.tokens_per_second();
}

void ProgressLine::Update(const v1::MetricSample& sample, absl::Time now) {
  if (sample.rank() != 0) return;  // rank 0 speaks for the gang, as in `plot`
  const auto& v = sample.values();
  if (auto it = v.find(metric_keys::kEvalLoss); it != v.end()) eval_loss_ = it->second;
  if (auto it = v.find(metric_keys::kTotalSteps); it != v.end()) total_ = static_cast<int64_t>(it->second);
  if (auto it = v.find(metric_keys::kTrainLoss); it != v.end()) loss_ = it->second;
  if (auto it = v.find(metric_keys::kTokensPerSecond); it != v.end()) tokens_per_second_ = it->second;
  if (v.count(metric_keys::kTrainLoss)) SeeStep(sample.step(), now);
}

std::string ProgressLine::Render() const {
  std::string out = state_;
  if (step_ > 0 || total_ > 0) {
    absl::StrAppend(&out, "  step ", step_);
    if (total_ > 0) absl::StrAppend(&out, "/", total_, absl::StrFormat(" (%d%%)", step_ * 100 / total_));
  }
  if (loss_) absl::StrAppend(&out, absl::StrFormat("  loss %.4f", *loss_));
  if (eval_loss_) absl::StrAppend(&out, absl::StrFormat("  eval %.4f", *eval_loss_));
  if (tokens_per_second_) absl::StrAppend(&out, absl::StrFormat("  %.0f tok/s", *tokens_per_second_));
  if (total_ > 0 && first_seen_ && step_ > first_seen_->first) {
    const absl::Duration per_step = (last_step_time_ - first_seen_->second) / (step_ - first_seen_->first);
    absl::StrAppend(&out, "  ETA ", CompactDuration(per_step * (total_ - step_)));
  }
  return out;
}

}  // namespace tunefleet::cli
