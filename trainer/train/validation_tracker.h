#pragma once
// Judges a run by its validation loss, for early stopping and for keeping
// (and exporting) the best checkpoint: the best loss so far and its step,
// and how many evaluations since have not beaten it by more than
// min_delta. Every rank sees the same validation loss (the ranks' sums
// meet in one collective), so every rank takes the same decisions without
// another one. Its state goes into every checkpoint (TrainerState::extra),
// so a resumed run judges as the uninterrupted one would.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace tunefleet {

class ValidationTracker {
 public:
  // patience 0: never says stop (the best is still tracked).
  ValidationTracker(int patience, double min_delta) : patience_(patience), min_delta_(min_delta) {}

  // The validation loss after `step`: true when it is a new best, that is
  // the first loss seen or below the best by more than min_delta.
  bool Observe(int64_t step, double loss);
  // patience > 0 and that many evaluations in a row were no new best.
  bool PatienceRanOut() const { return patience_ > 0 && evals_since_best_ >= patience_; }

  std::optional<int64_t> best_step() const { return best_step_; }
  double best_loss() const { return best_loss_; }
  int evals_since_best() const { return evals_since_best_; }

  void SaveState(std::map<std::string, std::string>& extra) const;
  // Absent keys (a checkpoint from before, or with nothing evaluated yet)
  // leave the fresh state; DATA_LOSS for a value that does not parse.
  absl::Status LoadState(const std::map<std::string, std::string>& extra);

 private:
  int patience_;
  double min_delta_;
  std::optional<int64_t> best_step_;
  double best_loss_ = 0;
  int evals_since_best_ = 0;
};

}  // namespace tunefleet
