#pragma once
// Where the data lands on the canvas: shared by the SVG and PNG writers.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cli/plot/loss_series.h"

namespace tunefleet::cli {

struct ChartLayout {
  double width = 800, height = 480;
  double left = 70, right = 20, top = 40, bottom = 50;
  int64_t step_min = 0, step_max = 1;
  double loss_min = 0, loss_max = 1;

  explicit ChartLayout(const LossSeries& s) {
    bool first = true;
    auto see = [&](int64_t step, double loss) {
      if (first) {
        step_min = step_max = step;
        loss_min = loss_max = loss;
        first = false;
      }
      step_min = std::min(step_min, step);
      step_max = std::max(step_max, step);
      loss_min = std::min(loss_min, loss);
      loss_max = std::max(loss_max, loss);
    };
    for (const auto& [step, loss] : s.train) see(step, loss);
    for (const auto& [step, loss] : s.eval) see(step, loss);
    for (const auto* tasks : {&s.task_train, &s.task_eval}) {
      for (const auto& [name, points] : *tasks) {
        for (const auto& [step, loss] : points) see(step, loss);
      }
    }
    if (step_max == step_min) step_max = step_min + 1;
    loss_min = std::max(0.0, loss_min - 0.05 * (loss_max - loss_min));
    if (loss_max - loss_min < 1e-9) loss_max = loss_min + 1;
  }
  double X(double step) const {
    return left + (step - static_cast<double>(step_min)) / static_cast<double>(step_max - step_min) *
                      (width - left - right);
  }
  double Y(double loss) const { return top + (loss_max - loss) / (loss_max - loss_min) * (height - top - bottom); }
};

// One line per task: the task's colour (its train loss solid, its eval loss
// dashed in SVG, dotted with marks in PNG), cycling through ten.
inline unsigned TaskColor(size_t index) {
  static constexpr unsigned kPalette[] = {0x2ca02c, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
                                          0xbcbd22, 0x17becf, 0xff7f0e, 0x393b79, 0x637939};
  return kPalette[index % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

}  // namespace tunefleet::cli
