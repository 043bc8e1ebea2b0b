#include "trainer/train/validation_tracker.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tunefleet {
namespace {

constexpr char kBestStepKey[] = "validation_best_step";
constexpr char kBestLossKey[] = "validation_best_loss";
constexpr char kSinceBestKey[] = "validation_evals_since_best";

}  // namespace

bool ValidationTracker::Observe(int64_t step, double loss) {
  // A non-finite loss is never a best; the loop stops on a NaN anyway.
  if (std::isfinite(loss) && (!best_step_.has_value() || loss < best_loss_ - min_delta_)) {
    best_step_ = step;
    best_loss_ = loss;
    evals_since_best_ = 0;
    return true;
  }
  ++evals_since_best_;
  return false;
}

void ValidationTracker::SaveState(std::map<std::string, std::string>& extra) const {
  if (!best_step_.has_value()) return;
  extra[kBestStepKey] = absl::StrCat(*best_step_);
  extra[kBestLossKey] = absl::StrFormat("%.17g", best_loss_);  // round-trips the double exactly
  extra[kSinceBestKey] = absl::StrCat(evals_since_best_);
}

absl::Status ValidationTracker::LoadState(const std::map<std::string, std::string>& extra) {
  const auto step = extra.find(kBestStepKey);
  if (step == extra.end()) return absl::OkStatus();
  const auto loss = extra.find(kBestLossKey);
  const auto since = extra.find(kSinceBestKey);
  int64_t best_step = 0;
  double best_loss = 0;
  int evals_since_best = 0;
  if (loss == extra.end() || since == extra.end() || !absl::SimpleAtoi(step->second, &best_step) ||
      !absl::SimpleAtod(loss->second, &best_loss) || !absl::SimpleAtoi(since->second, &evals_since_best) ||
      best_step < 0 || evals_since_best < 0 || !std::isfinite(best_loss)) {
    return absl::DataLossError("the trainer state's validation_best_* values are damaged");
  }
  best_step_ = best_step;
  best_loss_ = best_loss;
  evals_since_best_ = evals_since_best;
  return absl::OkStatus();
}

}  // namespace tunefleet
