#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "cli/plot/chart.h"
#include "cli/plot/chart_layout.h"

namespace tunefleet::cli {
namespace {

std::string Polyline(const std::map<int64_t, double>& points, const ChartLayout& c, const char* color,
                     bool dashed = false) {
  std::string out = absl::StrCat(R"(<polyline fill="none" stroke-width="2" stroke=")", color, "\"",
                                 dashed ? R"( stroke-dasharray="6 4")" : "", R"( points=")");
  for (const auto& [step, loss] : points) absl::StrAppend(&out, absl::StrFormat("%.1f,%.1f ", c.X(step), c.Y(loss)));
  absl::StrAppend(&out, "\"/>\n");
  if (points.size() <= 30) {  // sparse series (eval): mark each point
    for (const auto& [step, loss] : points) {
      absl::StrAppend(&out, absl::StrFormat(R"(<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>)", c.X(step), c.Y(loss),
                                            color),
                      "\n");
    }
  }
  return out;
}

}  // namespace

std::string RenderSvg(const LossSeries& series, const std::string& title) {
  const ChartLayout c(series);
  std::string out = absl::StrFormat(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">)"
      "\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      c.width, c.height);
  absl::StrAppend(&out, absl::StrFormat(R"(<text x="%.0f" y="24" font-size="16">%s</text>)", c.left,
                                        absl::StrReplaceAll(title, {{"&", "&amp;"}, {"<", "&lt;"}})),
                  "\n");
  for (int i = 0; i <= 5; ++i) {  // grid and tick labels
    const double loss = c.loss_min + (c.loss_max - c.loss_min) * i / 5;
    const double step = static_cast<double>(c.step_min) + static_cast<double>(c.step_max - c.step_min) * i / 5;
    absl::StrAppend(&out,
                    absl::StrFormat(R"(<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>)", c.left,
                                    c.Y(loss), c.width - c.right, c.Y(loss)),
                    absl::StrFormat(R"(<text x="%.1f" y="%.1f" text-anchor="end">%.3g</text>)", c.left - 6,
                                    c.Y(loss) + 4, loss),
                    absl::StrFormat(R"(<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>)", c.X(step),
                                    c.height - c.bottom + 18, step),
                    "\n");
  }
  absl::StrAppend(&out,
                  absl::StrFormat(R"(<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>)",
                                  c.left, c.top, c.width - c.left - c.right, c.height - c.top - c.bottom),
                  absl::StrFormat(R"(<text x="%.1f" y="%.1f" text-anchor="middle">step</text>)",
                                  (c.left + c.width - c.right) / 2, c.height - 10),
                  absl::StrFormat(R"svg(<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">loss</text>)svg",
                                  c.height / 2, c.height / 2),
                  "\n");
  absl::StrAppend(&out, Polyline(series.train, c, "#1f77b4"), Polyline(series.eval, c, "#d62728"));
  // Multi-task: each task's train (solid) and eval (dashed) loss, named on the right.
  size_t index = 0;
  for (const auto& [name, points] : series.task_train) {
    const std::string color = absl::StrFormat("#%06x", TaskColor(index));
    absl::StrAppend(&out, Polyline(points, c, color.c_str()));
    if (auto eval = series.task_eval.find(name); eval != series.task_eval.end()) {
      absl::StrAppend(&out, Polyline(eval->second, c, color.c_str(), /*dashed=*/true));
    }
    absl::StrAppend(&out, absl::StrFormat(R"(<text x="%.1f" y="%.1f" fill="%s" text-anchor="end">%s</text>)", c.width - c.right - 6,
                                          c.top + 14 + 14.0 * static_cast<double>(index), color,
                                          absl::StrReplaceAll(name, {{"&", "&amp;"}, {"<", "&lt;"}})),
                    "\n");
    ++index;
  }
  absl::StrAppend(&out,
                  absl::StrFormat(R"(<text x="%.1f" y="24" fill="#1f77b4">train loss</text>)", c.width - 200),
                  absl::StrFormat(R"(<text x="%.1f" y="24" fill="#d62728">eval loss</text>)", c.width - 100),
                  "\n</svg>\n");
  return out;
}

absl::Status WriteChart(const LossSeries& series, const std::string& title, const std::string& path) {
  if (series.empty()) return absl::FailedPreconditionError("no train or eval loss to plot yet");
  if (path.size() >= 4 && path.substr(path.size() - 4) == ".png") return WritePng(series, path);
  if (path.size() < 4 || path.substr(path.size() - 4) != ".svg") {
    return absl::InvalidArgumentError(absl::StrCat("plot output ", path, ": use a .svg or .png file name"));
  }
  std::ofstream out(path);
  out << RenderSvg(series, title);
  if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace tunefleet::cli
