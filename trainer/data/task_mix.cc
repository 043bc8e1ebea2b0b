#include "trainer/data/task_mix.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "trainer/data/batch_sampler.h"
#include "trainer/data/shuffle.h"

namespace tunefleet {
namespace {

std::vector<double> Normalized(std::vector<double> v) {
  double sum = 0;
  for (double x : v) sum += x;
  for (double& x : v) x = sum > 0 ? x / sum : 1.0 / static_cast<double>(v.size());
  return v;
}

absl::Status CheckProbabilities(const std::vector<double>& p, size_t tasks) {
  if (p.size() != tasks) {
    return absl::InvalidArgumentError(absl::StrCat(p.size(), " mixing probabilities for ", tasks, " tasks"));
  }
  double sum = 0;
  for (double x : p) {
    if (!(x >= 0 && std::isfinite(x))) return absl::InvalidArgumentError(absl::StrCat("mixing probability ", x));
    sum += x;
  }
  if (std::abs(sum - 1) > 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat("mixing probabilities sum to ", sum, ", not 1"));
  }
  return absl::OkStatus();
}

// A uniform double in [0, 1) from the top 53 bits.
double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace

std::vector<double> InitialMixProbabilities(v1::TaskMixingStrategy strategy, const std::vector<double>& weights,
                                            const std::vector<int64_t>& sizes, double temperature) {
  std::vector<double> p(weights.size());
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] = strategy == v1::TASK_MIXING_STRATEGY_TEMPERATURE
               ? std::pow(static_cast<double>(sizes[i]), 1.0 / (temperature > 0 ? temperature : 1.0))
               : weights[i];
  }
  return Normalized(std::move(p));
}

std::vector<double> LossBalancedProbabilities(const std::vector<double>& weights, const std::vector<double>& losses,
                                              double floor) {
  const size_t n = weights.size();
  std::vector<double> q(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (i < losses.size() && std::isfinite(losses[i]) && losses[i] > 0) q[i] = weights[i] * losses[i];
  }
  q = Normalized(std::move(q));
  // Raise the starved to the floor; scale the rest into what is left. Each
  // pass fixes at least one more task, so n passes suffice.
  std::vector<bool> fixed(n, false);
  for (size_t pass = 0; pass < n; ++pass) {
    double free_mass = 0;
    double fixed_mass = 0;
    for (size_t i = 0; i < n; ++i) {
      if (fixed[i]) {
        fixed_mass += floor;
      } else {
        free_mass += q[i];
      }
    }
    const double scale = free_mass > 0 ? (1 - fixed_mass) / free_mass : 0;
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      if (fixed[i]) continue;
      if (q[i] * scale < floor) {
        fixed[i] = true;
        changed = true;
      }
    }
    if (!changed) {
      for (size_t i = 0; i < n; ++i) q[i] = fixed[i] ? floor : q[i] * scale;
      return q;
    }
  }
  return std::vector<double>(n, 1.0 / static_cast<double>(n));  // every task at the floor: uniform
}

std::string TaskMixState::Serialize() const {
  std::vector<std::string> p;
  for (double x : probabilities) p.push_back(absl::StrFormat("%.17g", x));
  return absl::StrCat(step, ";", absl::StrJoin(picks, ","), ";", absl::StrJoin(p, ","));
}

absl::StatusOr<TaskMixState> TaskMixState::Parse(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ';');
  auto bad = [&text](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("task mix state \"", text, "\": ", why));
  };
  if (parts.size() != 3) return bad("not step;picks;probabilities");
  TaskMixState s;
  if (!absl::SimpleAtoi(parts[0], &s.step) || s.step < 0) return bad("bad step");
  for (absl::string_view v : absl::StrSplit(parts[1], ',')) {
    int64_t k = 0;
    if (!absl::SimpleAtoi(v, &k) || k < 0) return bad("bad pick count");
    s.picks.push_back(k);
  }
  for (absl::string_view v : absl::StrSplit(parts[2], ',')) {
    double x = 0;
    if (!absl::SimpleAtod(v, &x)) return bad("bad probability");
    s.probabilities.push_back(x);
  }
  if (s.picks.size() != s.probabilities.size()) return bad("picks and probabilities differ in number");
  return s;
}

TaskMixSampler::TaskMixSampler(const TaskMixOptions& options, std::vector<double> probabilities)
    : options_(options),
      grad_accum_steps_(options.global_batch_size / (options.micro_batch_size * options.world_size)),
      initial_probabilities_(std::move(probabilities)),
      cached_epoch_(options.task_sequences.size(), -1),
      cached_order_(options.task_sequences.size()) {
  int64_t total = 0;
  for (int64_t n : options_.task_sequences) total += n;
  steps_per_epoch_ = std::max<int64_t>(1, total / options_.global_batch_size);
  state_.picks.assign(options_.task_sequences.size(), 0);
  state_.probabilities = initial_probabilities_;
}

absl::StatusOr<TaskMixSampler> TaskMixSampler::Create(const TaskMixOptions& options,
                                                      std::vector<double> probabilities) {
  if (absl::Status s = CheckBatchGeometry(options.micro_batch_size, options.world_size, options.global_batch_size,
                                          options.rank);
      !s.ok()) {
    return s;
  }
  if (options.task_sequences.empty()) return absl::InvalidArgumentError("a task mix needs at least one task");
  for (size_t t = 0; t < options.task_sequences.size(); ++t) {
    if (options.task_sequences[t] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("task ", t, " has no training sequence"));
    }
  }
  if (absl::Status s = CheckProbabilities(probabilities, options.task_sequences.size()); !s.ok()) return s;
  return TaskMixSampler(options, std::move(probabilities));
}

absl::Status TaskMixSampler::Restore(const TaskMixState& state) {
  if (state.picks.size() != options_.task_sequences.size()) {
    return absl::FailedPreconditionError(absl::StrCat("the checkpoint's task mix has ", state.picks.size(),
                                                      " tasks; this job has ", options_.task_sequences.size()));
  }
  if (absl::Status s = CheckProbabilities(state.probabilities, state.picks.size()); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the checkpoint's task mix: ", s.message()));
  }
  state_ = state;
  return absl::OkStatus();
}

absl::Status TaskMixSampler::SetProbabilities(std::vector<double> probabilities) {
  if (absl::Status s = CheckProbabilities(probabilities, options_.task_sequences.size()); !s.ok()) return s;
  state_.probabilities = std::move(probabilities);
  return absl::OkStatus();
}

int TaskMixSampler::DrawTask(int64_t step, int slot) const {
  const uint64_t stream = DeriveSeed(options_.seed, kSeedPurposeTaskDraw, static_cast<uint64_t>(step));
  const double u = UnitInterval(Mix64(stream + static_cast<uint64_t>(slot) * 0x9e3779b97f4a7c15ULL));
  double cumulative = 0;
  int last_possible = 0;
  for (int t = 0; t < num_tasks(); ++t) {
    const double p = state_.probabilities[static_cast<size_t>(t)];
    if (p <= 0) continue;
    last_possible = t;
    cumulative += p;
    if (u < cumulative) return t;
  }
  return last_possible;  // rounding left u past the last sum
}

int64_t TaskMixSampler::SequenceOfPick(int task, int64_t pick) const {
  const auto t = static_cast<size_t>(task);
  const int64_t n = options_.task_sequences[t];
  const int64_t epoch = pick / n;
  if (cached_epoch_[t] != epoch) {
    const uint64_t task_seed = DeriveSeed(options_.seed, kSeedPurposeTaskEpochOrder, t);
    cached_order_[t] = RandomPermutation(n, DeriveSeed(task_seed, kSeedPurposeEpochOrder, static_cast<uint64_t>(epoch)));
    cached_epoch_[t] = epoch;
  }
  return cached_order_[t][static_cast<size_t>(pick % n)];
}

std::vector<TaskSequence> TaskMixSampler::GlobalBatch(int64_t step) {
  if (step < state_.step) {
    const std::vector<double> current = state_.probabilities;
    state_ = TaskMixState();
    state_.picks.assign(options_.task_sequences.size(), 0);
    state_.probabilities = current;
  }
  std::vector<TaskSequence> batch;
  while (state_.step <= step) {
    batch.clear();
    for (int slot = 0; slot < options_.global_batch_size; ++slot) {
      const int task = DrawTask(state_.step, slot);
      const int64_t pick = state_.picks[static_cast<size_t>(task)]++;
      // Skipped steps only count their picks.
      if (state_.step == step) batch.push_back(TaskSequence{task, SequenceOfPick(task, pick)});
    }
    ++state_.step;
  }
  return batch;
}

std::vector<TaskSequence> TaskMixSampler::MicroBatch(const std::vector<TaskSequence>& global, int micro) const {
  const int64_t per_rank = options_.global_batch_size / options_.world_size;
  const int64_t first = options_.rank * per_rank + int64_t{micro} * options_.micro_batch_size;
  return std::vector<TaskSequence>(global.begin() + first, global.begin() + first + options_.micro_batch_size);
}

}  // namespace tunefleet
