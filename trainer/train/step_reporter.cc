#include "trainer/train/step_reporter.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "common/metric_keys.h"
#include "trainer/dist/comm_bytes.h"
#include "trainer/train/training_device.h"

namespace tunefleet {
namespace {

std::string FormatDuration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

void PrintLines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace

StepReporter::StepReporter(Options options, MetricsStream& metrics, const StepOptimizer& optimizer,
                           Collectives* collectives)
    : options_(std::move(options)),
      metrics_(metrics),
      optimizer_(optimizer),
      collectives_(collectives),
      timer_([] { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); },
             [collectives] { return collectives != nullptr ? collectives->blocked_seconds() : 0.0; }) {}

void StepReporter::Start(int64_t first_step) {
  first_step_ = first_step;
  start_ = window_start_ = step_start_ = Clock::now();
  if (collectives_ != nullptr) collectives_->ResetStats();  // the steps' traffic only, not set-up's
  written_at_start_ = ProcessWrittenBytes();
  timer_.Start();
}

void StepReporter::BeginStep() { step_start_ = Clock::now(); }

void StepReporter::Step(int64_t step, const StepReport& report) {
  const StepTimes times = timer_.EndStep();
  const auto now = Clock::now();
  window_tokens_ += report.global_tokens;
  if (step > first_step_ + 1) {
    timed_seconds_ += std::chrono::duration<double>(now - step_start_).count();
    timed_split_.wall += times.wall;
    timed_split_.compute += times.compute;
    timed_split_.comm += times.comm;
    timed_split_.data += times.data;
    timed_split_.other += times.other;
  }
  const double window_seconds = std::chrono::duration<double>(now - window_start_).count();
  const double tokens_per_second = window_seconds > 0 ? window_tokens_ / window_seconds : 0;
  if (step == 1) PrintLines(optimizer_.FirstStepReport());
  if (step == options_.total_steps) {
    ReportTimeSplit(step - first_step_);
    ReportCommunication(step);
  }

  std::map<std::string, double> values = {{metric_keys::kTrainLoss, report.loss},
                                          {metric_keys::kLearningRate, report.learning_rate},
                                          {metric_keys::kGradNorm, report.grad_norm},
                                          {metric_keys::kTokensPerSecond, tokens_per_second},
                                          {metric_keys::kTotalSteps, static_cast<double>(options_.total_steps)},
                                          {metric_keys::kStepComputeSeconds, times.compute},
                                          {metric_keys::kStepCommSeconds, times.comm},
                                          {metric_keys::kStepDataSeconds, times.data},
                                          {metric_keys::kStepOtherSeconds, times.other}};
  if (const std::optional<double> overlap = optimizer_.CommOverlap()) values[metric_keys::kStepCommOverlap] = *overlap;
  if (options_.device.is_cuda()) {
    const DeviceMemory memory = MemoryOf(options_.device);
    values["gpu_memory_used_bytes"] = static_cast<double>(memory.used_bytes);
    values["gpu_memory_peak_bytes"] = static_cast<double>(memory.peak_allocated_bytes);
  }
  for (const TaskStepReport& task : report.tasks) {
    if (task.loss.has_value()) values[metric_keys::kTaskTrainLossPrefix + task.name] = *task.loss;
    values[metric_keys::kTaskTokensPrefix + task.name] = static_cast<double>(task.tokens);
    values[metric_keys::kTaskExamplesPrefix + task.name] = static_cast<double>(task.examples);
  }
  metrics_.Write(metric_keys::kStepEvent, step, values);
  if (options_.rank == 0 && (step == 1 || step % options_.log_every == 0 || step == options_.total_steps)) {
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = elapsed / static_cast<double>(step - first_step_) *
                       static_cast<double>(options_.total_steps - step);
    std::printf("step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s  elapsed %s  eta %s\n",
                static_cast<long long>(step), static_cast<long long>(options_.total_steps), report.loss,
                report.learning_rate, report.grad_norm, tokens_per_second, FormatDuration(elapsed).c_str(),
                FormatDuration(eta).c_str());
    std::fflush(stdout);
    window_start_ = now;
    window_tokens_ = 0;
  }
}

// Counted (the operations as issued, and what ring collectives would send)
// beside measured (bytes this process wrote: Gloo's sockets, plus log
// lines, metrics and any checkpoint written meanwhile).
void StepReporter::ReportCommunication(int64_t step) {
  if (collectives_ == nullptr) return;
  const CommStats& stats = collectives_->stats();
  const int64_t written = ProcessWrittenBytes();
  const int64_t steps = step - first_step_;
  std::printf("rank %d: sent %lld bytes (ideal %lld) in %lld collectives over %lld steps; wrote %lld bytes "
              "(/proc/self/io); mean step %.1f ms (after the first)\n",
              options_.rank, static_cast<long long>(stats.bytes_sent), static_cast<long long>(stats.ideal_bytes),
              static_cast<long long>(stats.operations), static_cast<long long>(steps),
              static_cast<long long>(written >= 0 && written_at_start_ >= 0 ? written - written_at_start_ : -1),
              steps > 1 ? 1000.0 * timed_seconds_ / static_cast<double>(steps - 1) : 0.0);
  PrintLines(optimizer_.LastStepReport());
}

// Every rank: where its time went (the ranks differ: the slowest waits least).
void StepReporter::ReportTimeSplit(int64_t steps) {
  if (steps < 2) return;
  const double n = static_cast<double>(steps - 1);
  const StepTimes& t = timed_split_;
  const std::optional<double> overlap = optimizer_.CommOverlap();
  std::printf("rank %d: mean step time split over %lld steps after the first: compute %.1f ms, comm %.1f ms, data "
              "%.1f ms, other %.1f ms of %.1f ms; %s\n",
              options_.rank, static_cast<long long>(steps - 1), 1000 * t.compute / n, 1000 * t.comm / n,
              1000 * t.data / n, 1000 * t.other / n, 1000 * t.wall / n,
              overlap.has_value() ? absl::StrFormat("%.0f%% of the gradient communication launched during backward",
                                                    100 * *overlap)
                                        .c_str()
                                  : "no gradient communication");
  std::fflush(stdout);
}

void StepReporter::Eval(int64_t step, double loss, const std::vector<TaskEvalReport>& tasks) {
  if (options_.rank != 0) return;
  std::printf("step %lld: eval loss %.4f\n", static_cast<long long>(step), loss);
  std::map<std::string, double> values = {{metric_keys::kEvalLoss, loss}};
  for (const TaskEvalReport& task : tasks) {
    std::printf("step %lld: task %s eval loss %s, mix probability %.4f\n", static_cast<long long>(step),
                task.name.c_str(), task.loss.has_value() ? absl::StrFormat("%.4f", *task.loss).c_str() : "-",
                task.mix_probability);
    if (task.loss.has_value()) values[metric_keys::kTaskEvalLossPrefix + task.name] = *task.loss;
    values[metric_keys::kTaskMixProbabilityPrefix + task.name] = task.mix_probability;
  }
  std::fflush(stdout);
  metrics_.Write(metric_keys::kEvalEvent, step, values);
}

void StepReporter::Stopped(int64_t step, const std::string& checkpoint) {
  metrics_.Write("stopped", step, {}, {{"checkpoint", checkpoint}});
}

void StepReporter::StoppedEarly(int64_t step, int64_t best_step, double best_loss) {
  metrics_.Write(metric_keys::kEarlyStopEvent, step,
                 {{metric_keys::kBestEvalLoss, best_loss}, {metric_keys::kBestStep, static_cast<double>(best_step)}});
}

void StepReporter::Done(int64_t step, const std::string& export_path) {
  metrics_.Write("done", step, {}, {{"export_path", export_path}});
}

}  // namespace tunefleet
