#include "coordinator/sweeps/sweep_table.h"

#include "common/evaluation_report.h"
#include "coordinator/jobs/job_lifecycle.h"

namespace tunefleet::coordinator::sweeps {
namespace {

// The point's objective metric; false when it has none (yet).
bool Metric(const v1::Sweep& sweep, const v1::SweepPoint& point, double* value) {
  if (sweep.objective() == v1::SWEEP_OBJECTIVE_MIN_TRAIN_LOSS) {
    *value = point.train_loss();
    return point.step() > 0;
  }
  if (sweep.objective() == v1::SWEEP_OBJECTIVE_MAX_EVAL_SCORE) {
    *value = -point.eval_score();  // the lowest value wins
    return point.has_eval_score();
  }
  *value = point.eval_loss();
  return point.has_eval_loss();
}

}  // namespace

void FillPoint(const v1::Job& job, v1::SweepPoint& point) {
  point.set_state(job.state());
  point.set_step(job.progress().step());
  point.set_train_loss(job.progress().train_loss());
  point.set_eval_loss(job.progress().eval_loss());
  // A cross-entropy loss is positive: 0 is the unset proto3 default, "not evaluated".
  point.set_has_eval_loss(job.progress().eval_loss() > 0);
  point.set_failure_reason(job.failure_reason());
  if (const v1::JobEvaluation::Row* headline = HeadlineRow(job.evaluation())) {
    point.set_eval_score(headline->candidate());
    point.set_has_eval_score(true);
  }
}

void Summarize(v1::Sweep& sweep) {
  bool all_ended = true, any_failed = false, any_cancelled = false;
  for (const v1::SweepPoint& point : sweep.points()) {
    all_ended = all_ended && jobs::IsTerminal(point.state());
    any_failed = any_failed || point.state() == v1::JOB_STATE_FAILED;
    any_cancelled = any_cancelled || point.state() == v1::JOB_STATE_CANCELLED;
  }
  if (!all_ended) {
    sweep.set_state(v1::SWEEP_STATE_RUNNING);
  } else if (sweep.cancel_requested() || any_cancelled) {
    sweep.set_state(v1::SWEEP_STATE_CANCELLED);
  } else if (any_failed) {
    sweep.set_state(v1::SWEEP_STATE_FAILED);
  } else {
    sweep.set_state(v1::SWEEP_STATE_SUCCEEDED);
  }
  sweep.clear_best_job();
  double best = 0;
  for (const v1::SweepPoint& point : sweep.points()) {
    double value = 0;
    if (point.state() != v1::JOB_STATE_SUCCEEDED || !Metric(sweep, point, &value)) continue;
    if (sweep.best_job().empty() || value < best) {
      best = value;
      sweep.set_best_job(point.job());
    }
  }
}

}  // namespace tunefleet::coordinator::sweeps
