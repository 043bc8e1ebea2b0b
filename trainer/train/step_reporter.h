#pragma once
// What a run tells people and the worker as it trains: a progress line on
// stdout every log_every steps (rank 0), a "step" line per step and an
// "eval" line per evaluation in the metrics stream, and the optimizer's and
// the collectives' own reports after the first and the last step (every
// rank: tests and bench/ read them).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "trainer/dist/collectives.h"
#include "trainer/metrics/metrics_stream.h"
#include "trainer/optim/optimizer.h"
#include "trainer/train/step_timer.h"

namespace tunefleet {

// One task's part of a multi-task step, over every rank.
struct TaskStepReport {
  std::string name;
  std::optional<double> loss;  // its mean token loss, unweighted; none when the step drew no loss token of it
  int64_t tokens = 0;
  int64_t examples = 0;
};

// One step as the ranks agreed it.
struct StepReport {
  double loss = 0;            // mean over the global batch's loss tokens (loss_weight-weighted when multi-task)
  double learning_rate = 0;
  double grad_norm = 0;
  int64_t global_tokens = 0;  // every rank's, together
  std::vector<TaskStepReport> tasks;  // multi-task only
};

// One task's part of an evaluation.
struct TaskEvalReport {
  std::string name;
  std::optional<double> loss;  // none without validation data
  double mix_probability = 0;  // what the following steps draw it with
};

class StepReporter {
 public:
  struct Options {
    int rank = 0;
    int log_every = 10;
    int64_t total_steps = 0;
    torch::Device device = torch::kCPU;  // a GPU's memory goes into the step lines
  };
  // `collectives`: null on one process. None is owned.
  StepReporter(Options options, MetricsStream& metrics, const StepOptimizer& optimizer, Collectives* collectives);

  // Before the first step of this launch (`first_step` after a resume):
  // counting starts here, not during set-up.
  void Start(int64_t first_step);
  // Before each step's work, so a step's time excludes evaluation and saves.
  void BeginStep();
  // The loop brackets each step's phases on it; Step() reports them.
  StepTimer& timer() { return timer_; }
  // After `step` (optimizer steps done) was agreed.
  void Step(int64_t step, const StepReport& report);
  void Eval(int64_t step, double loss, const std::vector<TaskEvalReport>& tasks = {});
  // The run's end: stopped on request after committing `checkpoint`, or
  // done with the model exported to `export_path`.
  void Stopped(int64_t step, const std::string& checkpoint);
  void Done(int64_t step, const std::string& export_path);
  // Patience ran out after `step`; the best validation loss and its step.
  void StoppedEarly(int64_t step, int64_t best_step, double best_loss);

 private:
  using Clock = std::chrono::steady_clock;
  void ReportCommunication(int64_t step);
  void ReportTimeSplit(int64_t steps);

  Options options_;
  MetricsStream& metrics_;
  const StepOptimizer& optimizer_;
  Collectives* collectives_;
  int64_t first_step_ = 0;
  Clock::time_point start_;
  Clock::time_point window_start_;
  Clock::time_point step_start_;
  int64_t window_tokens_ = 0;
  double timed_seconds_ = 0;  // steps after the first (which warms up allocators and Gloo's pairs)
  int64_t written_at_start_ = 0;
  StepTimer timer_;
  StepTimes timed_split_;  // summed over the steps after the first, like timed_seconds_
};

}  // namespace tunefleet
