#include "cli/output/sweep_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cli/output/resources.h"
#include "cli/output/table.h"
#include "common/evaluation_report.h"

namespace tunefleet::cli {
namespace {

std::string Loss(double value, bool present) { return present ? absl::StrFormat("%.4f", value) : "-"; }

std::string ObjectiveName(v1::SweepObjective objective) {
  if (objective == v1::SWEEP_OBJECTIVE_MAX_EVAL_SCORE) return "highest eval score (exact match)";
  return objective == v1::SWEEP_OBJECTIVE_MIN_TRAIN_LOSS ? "lowest train loss" : "lowest eval loss";
}

std::string Score(const v1::SweepPoint& point) {
  return point.has_eval_score() ? FormatMetricValue(kExactMatchMetric, point.eval_score()) : "-";
}

std::string AxesText(const v1::Sweep& sweep) {
  std::vector<std::string> axes;
  for (const v1::SweepAxis& axis : sweep.axes()) {
    axes.push_back(absl::StrCat(axis.path(), "=", absl::StrJoin(axis.values(), ",")));
  }
  return absl::StrJoin(axes, " x ");
}

}  // namespace

std::string SweepStateName(v1::SweepState state) {
  return std::string(absl::StripPrefix(v1::SweepState_Name(state), "SWEEP_STATE_"));
}

std::string SweepDetail(const v1::Sweep& sweep, absl::Time now) {
  std::string out = RenderKeyValues({
      {"Name", sweep.name()},
      {"State", SweepStateName(sweep.state())},
      {"Owner", sweep.owner().empty() ? "-" : sweep.owner()},
      {"Grid", absl::StrCat(AxesText(sweep), " (", sweep.points_size(), " points)")},
      {"Max concurrent", sweep.max_concurrent() > 0 ? absl::StrCat(sweep.max_concurrent()) : "no limit"},
      {"Objective", ObjectiveName(sweep.objective())},
      {"Created", absl::StrCat(FormatTime(sweep.create_time()), " (", FormatAge(sweep.create_time(), now), " ago)")},
  });
  // One column per axis (its field's last name), then the member's figures.
  // The evaluation score (evaluation.after_training) after EVAL LOSS, when
  // any member has one.
  bool any_score = false;
  for (const v1::SweepPoint& point : sweep.points()) any_score = any_score || point.has_eval_score();
  std::vector<std::string> headers = {""};
  for (const v1::SweepAxis& axis : sweep.axes()) {
    const size_t dot = axis.path().rfind('.');
    headers.push_back(absl::AsciiStrToUpper(dot == std::string::npos ? axis.path() : axis.path().substr(dot + 1)));
  }
  for (const char* h : {"JOB", "STATE", "STEP", "TRAIN LOSS", "EVAL LOSS"}) headers.emplace_back(h);
  if (any_score) headers.emplace_back("EVAL SCORE");
  Table table(headers);
  const v1::SweepPoint* best = nullptr;
  for (const v1::SweepPoint& point : sweep.points()) {
    const bool is_best = point.job() == sweep.best_job();
    if (is_best) best = &point;
    std::vector<std::string> row = {is_best ? "*" : ""};
    for (const std::string& value : point.values()) row.push_back(value);
    row.push_back(std::string(absl::StripPrefix(point.job(), "jobs/")));
    row.push_back(StateName(point.state()));
    row.push_back(point.step() > 0 ? absl::StrCat(point.step()) : "-");
    row.push_back(Loss(point.train_loss(), point.step() > 0 && point.train_loss() > 0));
    row.push_back(Loss(point.eval_loss(), point.has_eval_loss()));
    if (any_score) row.push_back(Score(point));
    table.AddRow(std::move(row));
  }
  absl::StrAppend(&out, "\n", table.Render());
  if (best != nullptr) {
    std::vector<std::string> values;
    for (int i = 0; i < sweep.axes_size() && i < best->values_size(); ++i) {
      values.push_back(absl::StrCat(sweep.axes(i).path(), "=", best->values(i)));
    }
    const std::string metric =
        sweep.objective() == v1::SWEEP_OBJECTIVE_MAX_EVAL_SCORE ? Score(*best)
        : absl::StrFormat("%.4f", sweep.objective() == v1::SWEEP_OBJECTIVE_MIN_TRAIN_LOSS ? best->train_loss()
                                                                                          : best->eval_loss());
    absl::StrAppend(&out, "\nBest: ", best->job(), " (", absl::StrJoin(values, ", "), "): ",
                    ObjectiveName(sweep.objective()), " ", metric, "\n");
  } else {
    absl::StrAppend(&out, "\nBest: none yet (no member has succeeded with its objective metric)\n");
  }
  return out;
}

std::string SweepsTable(const std::vector<v1::Sweep>& sweeps, absl::Time now) {
  Table table({"NAME", "STATE", "POINTS", "GRID", "BEST", "AGE"});
  for (const v1::Sweep& sweep : sweeps) {
    table.AddRow({sweep.name(), SweepStateName(sweep.state()), absl::StrCat(sweep.point_count()), AxesText(sweep),
                  sweep.best_job().empty() ? "-" : sweep.best_job(), FormatAge(sweep.create_time(), now)});
  }
  return table.Render();
}

}  // namespace tunefleet::cli
