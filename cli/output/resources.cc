#include "cli/output/resources.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cli/output/table.h"
#include "common/evaluation_report.h"
#include "common/proto_time.h"

namespace tunefleet::cli {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& t) { return FromProtoTime(t); }
bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string StepText(const v1::JobProgress& p) {
  if (p.step() == 0 && p.total_steps() == 0) return "-";
  return p.total_steps() > 0 ? absl::StrCat(p.step(), "/", p.total_steps()) : absl::StrCat(p.step());
}

std::string Loss(double value) { return value > 0 ? absl::StrFormat("%.4f", value) : "-"; }

// "0.412 s: compute 0.301, comm 0.080, data 0.010, other 0.021; comm overlap 35%"
std::string StepTimeText(const v1::StepTimeSplit& s) {
  const double total = s.compute_seconds() + s.comm_seconds() + s.data_seconds() + s.other_seconds();
  if (total <= 0) return "-";
  std::string text = absl::StrFormat("%.3f s: compute %.3f, comm %.3f, data %.3f, other %.3f", total,
                                     s.compute_seconds(), s.comm_seconds(), s.data_seconds(), s.other_seconds());
  if (s.has_comm_overlap()) absl::StrAppend(&text, absl::StrFormat("; comm overlap %.0f%%", 100 * s.comm_overlap()));
  return text;
}

}  // namespace

std::string StateName(v1::JobState state) {
  return std::string(absl::StripPrefix(v1::JobState_Name(state), "JOB_STATE_"));
}
std::string StateName(v1::WorkerState state) {
  return std::string(absl::StripPrefix(v1::WorkerState_Name(state), "WORKER_STATE_"));
}
bool IsFinal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED || state == v1::JOB_STATE_CANCELLED;
}

std::string CompactDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  const int64_t s = absl::ToInt64Seconds(d);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60 ? absl::StrCat(s % 60, "s") : "");
  if (s < 86400) return absl::StrCat(s / 3600, "h", (s % 3600) / 60 ? absl::StrCat((s % 3600) / 60, "m") : "");
  return absl::StrCat(s / 86400, "d");
}

std::string FormatAge(const google::protobuf::Timestamp& t, absl::Time now) {
  return IsSet(t) ? CompactDuration(now - ToTime(t)) : "-";
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return IsSet(t) ? absl::FormatTime(absl::RFC3339_sec, ToTime(t), absl::UTCTimeZone()) : "-";
}

std::string JobsTable(const std::vector<v1::Job>& jobs, absl::Time now) {
  Table table({"NAME", "DISPLAY NAME", "STATE", "ATTEMPT", "STEP", "WORLD", "AGE"});
  for (const auto& job : jobs) {
    table.AddRow({job.name(), job.spec().display_name().empty() ? "-" : job.spec().display_name(),
                  StateName(job.state()), absl::StrCat(job.attempt()), StepText(job.progress()),
                  absl::StrCat(job.spec().resources().world_size()), FormatAge(job.create_time(), now)});
  }
  return table.Render();
}

std::string JobDetail(const v1::Job& job, absl::Time now) {
  std::vector<std::pair<std::string, std::string>> kv = {
      {"Name", job.name()},
      {"Display name", job.spec().display_name().empty() ? "-" : job.spec().display_name()},
      {"State", StateName(job.state())},
      {"Owner", job.owner().empty() ? "-" : job.owner()},
      {"Attempt", absl::StrCat(job.attempt(), " (generation ", job.generation(), ", restarts used ",
                               job.restarts_used(), "/", job.spec().restart().max_restarts(), ")")},
      {"Step", StepText(job.progress())},
      {"Train loss", Loss(job.progress().train_loss())},
      {"Eval loss", Loss(job.progress().eval_loss())},
      {"Tokens/s", job.progress().tokens_per_second() > 0 ? absl::StrFormat("%.0f", job.progress().tokens_per_second())
                                                          : "-"},
      {"Step time", StepTimeText(job.progress().step_time())},
      {"Model", job.spec().model().path()},
      {"Dataset", job.spec().dataset().tasks_size() > 0
                      ? absl::StrCat(job.spec().dataset().tasks_size(), " tasks")
                      : job.spec().dataset().path()},
      {"World size", absl::StrCat(job.spec().resources().world_size())},
      {"Created", absl::StrCat(FormatTime(job.create_time()), " (", FormatAge(job.create_time(), now), " ago)")},
      {"Started", FormatTime(job.start_time())},
      {"Ended", FormatTime(job.end_time())},
  };
  std::vector<std::string> placements;
  for (const auto& p : job.placements()) placements.push_back(absl::StrCat(p.rank(), "=", p.worker()));
  kv.push_back({"Placements", placements.empty() ? "-" : absl::StrJoin(placements, " ")});
  if (!job.export_path().empty()) kv.push_back({"Export", job.export_path()});
  if (!job.failure_reason().empty()) kv.push_back({"Failure", job.failure_reason()});
  if (!job.lineage().spec_sha256().empty()) {  // `tunefleet lineage` on the export gives the full hashes
    kv.push_back({"Lineage", absl::StrCat("tunefleet ", job.lineage().tunefleet_version(), ", spec sha256 ",
                                          job.lineage().spec_sha256().substr(0, 16))});
    for (const auto& input : job.lineage().inputs()) {
      kv.push_back({absl::StrCat("  ", input.role()), absl::StrCat(input.sha256().substr(0, 16), "  ", input.path())});
    }
  }
  if (job.evaluation().examples() > 0) {  // the export's tunefleet_evaluation.json holds the same
    const v1::JobEvaluation& e = job.evaluation();
    kv.push_back({"Evaluation", absl::StrCat(e.examples(), " examples of ", e.data_path(), ", against ", e.baseline())});
    for (const auto& row : e.rows()) {
      const bool rate = IsRateMetric(row.metric());
      const auto value = [&row](double x) { return FormatMetricValue(row.metric(), x); };
      const auto delta = [&row](double x) { return FormatMetricDifference(row.metric(), x); };
      kv.push_back({absl::StrCat("  ", row.task(), ": ", row.metric()),
                    absl::StrCat(value(row.baseline()), " -> ", value(row.candidate()), " (", delta(row.difference()),
                                 rate ? " pts" : "", ", ", absl::StrFormat("%.0f", 100 * e.confidence()), "% [",
                                 delta(row.ci_low()), ", ", delta(row.ci_high()), "])")});
    }
  }
  std::string out = RenderKeyValues(kv);
  if (job.progress().tasks_size() > 0) absl::StrAppend(&out, "Tasks:\n", TasksTable(job));
  return out;
}

std::string TasksTable(const v1::Job& job) {
  Table table({"TASK", "MIX", "LOSS WEIGHT", "TRAIN LOSS", "EVAL LOSS", "TOKENS", "EXAMPLES"});
  for (const v1::TaskProgress& task : job.progress().tasks()) {
    std::string loss_weight = "-";
    for (const v1::DatasetTask& spec : job.spec().dataset().tasks()) {
      if (spec.name() == task.name()) loss_weight = absl::StrFormat("%g", spec.loss_weight() > 0 ? spec.loss_weight() : 1.0);
    }
    table.AddRow({task.name(), task.mix_probability() > 0 ? absl::StrFormat("%.3f", task.mix_probability()) : "-",
                  loss_weight, Loss(task.train_loss()), Loss(task.eval_loss()), absl::StrCat(task.tokens()),
                  absl::StrCat(task.examples())});
  }
  return table.Render();
}

std::string WorkersTable(const std::vector<v1::Worker>& workers, absl::Time now) {
  Table table({"NAME", "STATE", "SLOTS", "JOBS", "HEARTBEAT"});
  for (const auto& w : workers) {
    table.AddRow({w.name(), StateName(w.state()), absl::StrCat(w.slots_busy(), "/", w.slots_total()),
                  w.jobs().empty() ? "-" : absl::StrJoin(w.jobs(), ","),
                  IsSet(w.last_heartbeat_time()) ? FormatAge(w.last_heartbeat_time(), now) + " ago" : "-"});
  }
  return table.Render();
}

}  // namespace tunefleet::cli
