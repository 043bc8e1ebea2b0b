#include "trainer/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<RunEnd> Trainer::Run() {
  auto first_step = Resume();
  if (!first_step.ok()) return first_step.status();
  const int64_t total_steps = parts_.data.total_steps();
  parts_.reporter.Start(*first_step);
  last_step_ = *first_step;
  // Resumed from the checkpoint where patience ran out (the export failed?).
  if (parts_.validation.PatienceRanOut()) return StopEarly(*first_step);
  for (int64_t step = *first_step; step < total_steps; ++step) {
    const int64_t done = step + 1;

    // Train: forward and backward over this rank's micro-batches, update.
    // The timer cuts the step into phases (trainer/train/step_timer.h).
    StepTimer& timer = parts_.reporter.timer();
    parts_.reporter.BeginStep();
    timer.BeginData();
    const StepBatches batches = parts_.data.ForStep(step);
    timer.EndData();
    const StepSettings settings{settings_.schedule.At(step), settings_.max_grad_norm,
                                std::max<int64_t>(1, batches.global_loss_tokens), parts_.data.num_tasks()};
    timer.BeginCompute();
    auto result = TrainStep(parts_.model, parts_.params, parts_.optimizer, batches.micro_batches, settings);
    timer.EndCompute();
    if (!result.ok()) return result.status();

    // Agree: every rank's requests, loss and tokens, in one collective.
    const absl::Status save_error = parts_.checkpointer.Poll();
    timer.BeginCompute();  // the loss's read-back: where a GPU's queued work is waited for
    const StepVote vote = Vote(*result, save_error);
    timer.EndCompute();
    auto decision = parts_.agreement.AgreeOnStep(vote);
    if (!decision.ok()) return decision.status();
    if (auto s = EndsTheRun(*decision, save_error, done); !s.ok()) return s;

    // Report.
    const double loss = decision->loss_sum / static_cast<double>(settings.global_loss_tokens);
    parts_.reporter.Step(done, {loss, settings.learning_rate, result->grad_norm, decision->tokens,
                                TaskReports(batches, *decision)});

    // Evaluate (the ranks see the same loss, so they judge alike).
    bool new_best = false;
    if (settings_.eval_every > 0 && done % settings_.eval_every == 0 && done != total_steps) {
      auto evaluated = Evaluate(done);
      if (!evaluated.ok()) return evaluated.status();
      new_best = *evaluated;
    }
    const bool stop_early = parts_.validation.PatienceRanOut();

    // Checkpoint.
    const bool save = decision->save_now || decision->stop || stop_early || (new_best && settings_.save_best);
    if (parts_.checkpointer.ShouldSave(done, save)) {
      if (auto s = parts_.checkpointer.Save(done, loss); !s.ok()) return s;
    }
    last_step_ = done;

    // Stop.
    if (decision->stop) return StopAfter(done);
    if (stop_early) return StopEarly(done);
  }
  // The final checkpoint must be committed before the run counts as done.
  if (auto s = CommitOnEveryRank("the final checkpoint"); !s.ok()) return s;
  if (auto s = Evaluate(total_steps); !s.ok()) return s.status();
  last_step_ = total_steps;
  return RunEnd::kCompleted;
}

absl::StatusOr<RunEnd> Trainer::StopEarly(int64_t step) {
  if (auto s = CommitOnEveryRank(absl::StrCat("the checkpoint of step ", step)); !s.ok()) return s;
  const ValidationTracker& v = parts_.validation;
  if (parts_.agreement.leader()) {
    std::printf("early stopping after step %lld: %d evaluations without a validation loss below %.6g (step %lld)\n",
                static_cast<long long>(step), v.evals_since_best(), v.best_loss(),
                static_cast<long long>(v.best_step().value_or(0)));
    std::fflush(stdout);
  }
  parts_.reporter.StoppedEarly(step, v.best_step().value_or(0), v.best_loss());
  last_step_ = step;
  return RunEnd::kStoppedEarly;
}

absl::Status Trainer::EndsTheRun(const StepDecision& decision, const absl::Status& save_error, int64_t step) const {
  if (!save_error.ok()) return save_error;  // a failed save stops the run: see docs/checkpoints.md
  if (decision.save_failed) {
    return absl::AbortedError(absl::StrCat("stopping at step ", step, ": a checkpoint save failed on another rank"));
  }
  if (decision.nan_seen) {
    return absl::InternalError(absl::StrCat("the loss of step ", step, " is not finite: training diverged"));
  }
  if (decision.stop && !parts_.checkpointer.enabled()) {
    return absl::CancelledError(
        absl::StrCat("stopped by request after step ", step, " (no checkpoint.directory: not resumable)"));
  }
  return absl::OkStatus();
}

// Last in set-up: it restores torch's RNG, which model and LoRA init draw from.
absl::StatusOr<int64_t> Trainer::Resume() {
  if (!parts_.checkpointer.enabled()) return 0;
  const auto start = std::chrono::steady_clock::now();
  // Agreed: a rank that cannot resume (a damaged store, inputs that changed
  // under the job) fails every rank now, not at their next collective.
  auto resumed = parts_.checkpointer.Resume();
  if (auto s = parts_.agreement.AllSucceeded(resumed.status(), "resuming from a checkpoint"); !s.ok()) return s;
  // Every rank must resume the same step (they read the same storage).
  if (auto s = parts_.agreement.SameOnEveryRank(*resumed, "resumed step"); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(s.message(), " (storage changed?)"));
  }
  if (auto s = parts_.checkpointer.SetAsideNewerThan(*resumed); !s.ok()) return s;
  if (parts_.agreement.leader() && *resumed > 0) {
    std::printf("checkpoint: resume took %.3f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::fflush(stdout);
  }
  return *resumed;
}

StepVote Trainer::Vote(const StepResult& result, const absl::Status& save_error) {
  StepVote vote;
  vote.stop = settings_.stop_requested != nullptr && settings_.stop_requested->load();
  const bool signalled = settings_.save_requested != nullptr && settings_.save_requested->exchange(false);
  vote.save_now = signalled || parts_.checkpointer.SaveDueByClock();
  vote.save_failed = !save_error.ok();
  if (result.task_loss_sums.defined()) {
    // The step's one host sync, for the per-task sums too.
    const torch::Tensor host = torch::cat({result.loss_sum.reshape({1}), result.task_loss_sums}).cpu();
    const auto values = host.accessor<double, 1>();
    vote.loss_sum = values[0];
    for (int64_t i = 1; i < host.size(0); ++i) vote.task_loss_sums.push_back(values[i]);
  } else {
    vote.loss_sum = result.loss_sum.item<double>();  // the step's one host sync
  }
  vote.tokens = result.tokens;
  return vote;
}

absl::StatusOr<bool> Trainer::Evaluate(int64_t step) {
  // Every rank evaluates its share (possibly none) of each set (one per
  // task of a multi-task job) and the sums meet, in one collective.
  std::vector<double> local;
  for (const std::vector<BatchTensors>& set : parts_.data.validation_sets()) {
    auto sums = EvaluateLossSums(parts_.model, set);
    if (!sums.ok()) return sums.status();
    local.push_back(sums->sum);
    local.push_back(static_cast<double>(sums->count));
  }
  auto sums = parts_.agreement.Sum(local, "the evaluation loss");
  if (!sums.ok()) return sums.status();
  double sum = 0;
  double count = 0;
  std::vector<std::optional<double>> task_losses;
  for (size_t i = 0; i + 1 < sums->size(); i += 2) {
    sum += (*sums)[i];
    count += (*sums)[i + 1];
    task_losses.push_back((*sums)[i + 1] > 0 ? std::optional<double>((*sums)[i] / (*sums)[i + 1]) : std::nullopt);
  }
  if (count <= 0) return false;
  if (parts_.data.num_tasks() == 0) {
    parts_.reporter.Eval(step, sum / count);
    return parts_.validation.Observe(step, sum / count);
  }
  if (auto s = Remix(task_losses); !s.ok()) return s;
  std::vector<TaskEvalReport> reports;
  const std::vector<std::string> names = parts_.data.task_names();
  const std::vector<double> probabilities = parts_.data.mix_probabilities();
  for (size_t i = 0; i < names.size(); ++i) reports.push_back({names[i], task_losses[i], probabilities[i]});
  parts_.reporter.Eval(step, sum / count, reports);  // the overall loss: over every task's tokens
  return parts_.validation.Observe(step, sum / count);
}

absl::Status Trainer::Remix(const std::vector<std::optional<double>>& task_losses) {
  const v1::TaskMixing mixing = parts_.data.mixing();
  if (mixing.strategy() != v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS) return absl::OkStatus();
  std::vector<double> losses;
  for (const std::optional<double>& loss : task_losses) losses.push_back(loss.value_or(std::nan("")));
  // Every rank computes the same from the same agreed sums.
  return parts_.data.SetMixProbabilities(
      LossBalancedProbabilities(parts_.data.task_weights(), losses, mixing.min_probability()));
}

std::vector<TaskStepReport> Trainer::TaskReports(const StepBatches& batches, const StepDecision& decision) const {
  std::vector<TaskStepReport> reports;
  if (batches.tasks.empty()) return reports;
  const std::vector<std::string> names = parts_.data.task_names();
  for (size_t i = 0; i < batches.tasks.size() && i < decision.task_loss_sums.size(); ++i) {
    const TaskStepCounts& counts = batches.tasks[i];
    TaskStepReport& report = reports.emplace_back();
    report.name = names[i];
    if (counts.loss_tokens > 0) report.loss = decision.task_loss_sums[i] / static_cast<double>(counts.loss_tokens);
    report.tokens = counts.tokens;
    report.examples = counts.examples;
  }
  return reports;
}

absl::Status Trainer::CommitOnEveryRank(const std::string& what) {
  if (!parts_.checkpointer.enabled()) return absl::OkStatus();
  return parts_.agreement.AllSucceeded(parts_.checkpointer.Finish(), what);
}

absl::StatusOr<RunEnd> Trainer::StopAfter(int64_t step) {
  // Exit only once the checkpoint is committed, and all ranks say so.
  if (auto s = CommitOnEveryRank(absl::StrCat("the checkpoint of step ", step)); !s.ok()) return s;
  std::printf("rank %d: stopped by request after committing the checkpoint of step %lld (resumable)\n",
              parts_.agreement.rank(), static_cast<long long>(step));
  std::fflush(stdout);
  parts_.reporter.Stopped(step, parts_.checkpointer.root().StepDirectory(step));
  return RunEnd::kStoppedAfterCheckpoint;
}

}  // namespace tunefleet
