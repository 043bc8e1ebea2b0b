#include "trainer/eval/paired_comparison.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<PairedDifference> ComparePaired(const std::vector<double>& baseline,
                                               const std::vector<double>& candidate,
                                               const BootstrapOptions& options) {
  if (baseline.size() != candidate.size()) {
    return absl::InvalidArgumentError(absl::StrCat("paired comparison: ", baseline.size(), " baseline scores but ",
                                                   candidate.size(), " candidate scores"));
  }
  if (baseline.empty()) return absl::InvalidArgumentError("paired comparison: no examples");
  if (options.resamples < 100 || options.resamples > 1000000) {
    return absl::InvalidArgumentError(absl::StrCat("bootstrap resamples ", options.resamples, " not in [100, 1000000]"));
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("confidence ", options.confidence, " not in (0, 1)"));
  }
  const size_t n = baseline.size();
  std::vector<double> differences(n);
  PairedDifference out;
  out.n = static_cast<int64_t>(n);
  out.confidence = options.confidence;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(baseline[i]) || !std::isfinite(candidate[i])) {
      return absl::InvalidArgumentError(absl::StrCat("paired comparison: example ", i, " has a non-finite score"));
    }
    differences[i] = candidate[i] - baseline[i];
    out.baseline_mean += baseline[i];
    out.candidate_mean += candidate[i];
  }
  out.baseline_mean /= static_cast<double>(n);
  out.candidate_mean /= static_cast<double>(n);
  out.difference = out.candidate_mean - out.baseline_mean;

  // Not a secret: a fixed, portable generator so a report can be reproduced.
  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(static_cast<size_t>(options.resamples));
  for (double& mean : means) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += differences[pick(random)];
    mean = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  const double tail = (1 - options.confidence) / 2;
  const auto at = [&means](double q) {
    const double position = q * static_cast<double>(means.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, means.size() - 1);
    return means[below] + (position - static_cast<double>(below)) * (means[above] - means[below]);
  };
  out.ci_low = at(tail);
  out.ci_high = at(1 - tail);
  return out;
}

}  // namespace tunefleet
