#pragma once
// Where one optimizer step's wall time goes, cut into phases that add up to
// it exactly. A step's wall time runs from the previous step's report (or
// the loop's start) to this step's report, so the steps tile the loop:
//   data     assembling the step's batches (RankData::ForStep);
//   compute  forward, backward and the optimizer's arithmetic (TrainStep)
//            and reading the loss back (the step's one host sync: on a GPU
//            the host waits there for the queued kernels), less any time
//            blocked on a collective inside them;
//   comm     blocked on collectives anywhere in the step (Collectives::
//            blocked_seconds: the bucket waits after backward, the norm's
//            sum, the all-gather, the ranks' agreement, and the
//            evaluation's and checkpoint's collectives when they fall in it),
//            i.e. the communication compute did not hide;
//   other    the rest: the previous step's evaluation and checkpoint save
//            (or the stall of an async one), reporting, the checkpointer's poll.
// Host time only: nothing here synchronises a device.

#include <functional>

namespace tunefleet {

struct StepTimes {
  double wall = 0;
  double compute = 0;
  double comm = 0;
  double data = 0;
  double other = 0;  // wall less the others; never negative
};

class StepTimer {
 public:
  // A monotonic clock in seconds, and the collectives' cumulative blocked
  // seconds (a constant without collectives); injected so tests drive both.
  using Seconds = std::function<double()>;
  StepTimer(Seconds clock, Seconds blocked);

  // The loop starts: the first step's wall time counts from here.
  void Start();
  // Phases may be bracketed more than once a step; they add up.
  void BeginData();
  void EndData();
  void BeginCompute();
  void EndCompute();
  // The step is reported: its times; the next step's start from now.
  StepTimes EndStep();

 private:
  Seconds clock_;
  Seconds blocked_;
  double step_start_ = 0;
  double blocked_at_step_start_ = 0;
  double phase_start_ = 0;
  double blocked_at_phase_start_ = 0;
  StepTimes current_;
};

}  // namespace tunefleet
