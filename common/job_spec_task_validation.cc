#include "common/job_spec_task_validation.h"

#include <cmath>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/job_spec_limits.h"

namespace tunefleet {
namespace {

namespace lim = job_spec_limits;

absl::Status Invalid(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("job spec field ", field, ": ", why));
}

absl::Status CheckIn(const std::string& field, double v, double lo, double hi, bool lo_open) {
  if (std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi) return absl::OkStatus();
  return Invalid(field, absl::StrCat("must be a finite number in ", lo_open ? "(" : "[", lo, ", ", hi, "], got ", v));
}

absl::Status CheckPath(const std::string& field, const std::string& s) {
  if (static_cast<int64_t>(s.size()) > lim::kMaxPathBytes) {
    return Invalid(field, absl::StrCat("is ", s.size(), " bytes, more than the limit of ", lim::kMaxPathBytes));
  }
  if (s.find('\0') != std::string::npos) return Invalid(field, "must not contain a NUL byte");
  return absl::OkStatus();
}

absl::Status ValidateTask(const v1::DatasetTask& task, const std::string& field, std::set<std::string>& names) {
  if (!IsValidTaskName(task.name())) {
    return Invalid(field + ".name", absl::StrCat("must be 1 to ", lim::kMaxTaskNameBytes,
                                                 " bytes of [A-Za-z0-9_.-] (it names metrics and labels)"));
  }
  if (!names.insert(task.name()).second) return Invalid(field + ".name", absl::StrCat("\"", task.name(), "\" is used twice"));
  if (task.path().empty()) return Invalid(field + ".path", "is required (a JSONL file)");
  if (absl::Status s = CheckPath(field + ".path", task.path()); !s.ok()) return s;
  if (absl::Status s = CheckPath(field + ".validation_path", task.validation_path()); !s.ok()) return s;
  if (absl::Status s = CheckIn(field + ".validation_fraction", task.validation_fraction(), 0, 0.5, false); !s.ok()) {
    return s;
  }
  if (!v1::DatasetFormat_IsValid(task.format())) return Invalid(field + ".format", "unknown value");
  if (!v1::ChatTemplate_IsValid(task.chat_template())) return Invalid(field + ".chat_template", "unknown value");
  if (absl::Status s = CheckIn(field + ".weight", task.weight(), 0, lim::kMaxTaskWeight, true); !s.ok()) return s;
  return CheckIn(field + ".loss_weight", task.loss_weight(), 0, lim::kMaxTaskLossWeight, true);
}

absl::Status ValidateMixing(const v1::DatasetSpec& dataset, const v1::EvaluationSpec& evaluation) {
  const v1::TaskMixing& mixing = dataset.mixing();
  if (!v1::TaskMixingStrategy_IsValid(mixing.strategy())) return Invalid("dataset.mixing.strategy", "unknown value");
  if (absl::Status s = CheckIn("dataset.mixing.temperature", mixing.temperature(), lim::kMinMixTemperature,
                               lim::kMaxMixTemperature, false);
      !s.ok()) {
    return s;
  }
  const double max_floor = 1.0 / dataset.tasks_size();
  if (absl::Status s = CheckIn("dataset.mixing.min_probability", mixing.min_probability(), 0, max_floor, false);
      !s.ok()) {
    return s;
  }
  if (mixing.strategy() != v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS) return absl::OkStatus();
  if (evaluation.interval_steps() <= 0) {
    return Invalid("dataset.mixing.strategy",
                   "inverse_validation_loss re-mixes at each evaluation: set evaluation.interval_steps");
  }
  for (int i = 0; i < dataset.tasks_size(); ++i) {
    const v1::DatasetTask& task = dataset.tasks(i);
    if (task.validation_path().empty() && task.validation_fraction() <= 0) {
      return Invalid(absl::StrCat("dataset.tasks[", i, "]"),
                     absl::StrCat("task ", task.name(),
                                  " has no validation data (validation_path or validation_fraction), which "
                                  "inverse_validation_loss mixing weighs it by"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidTaskName(const std::string& name) {
  if (name.empty() || static_cast<int64_t>(name.size()) > lim::kMaxTaskNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateDatasetTasks(const v1::DatasetSpec& dataset, const v1::EvaluationSpec& evaluation) {
  if (dataset.tasks_size() == 0) {
    if (dataset.has_mixing()) return Invalid("dataset.mixing", "needs dataset.tasks (a mix of several datasets)");
    return absl::OkStatus();
  }
  if (!dataset.path().empty()) {
    return Invalid("dataset.path", "is exclusive with dataset.tasks: give one file in path, or the tasks");
  }
  if (!dataset.validation_path().empty() || dataset.validation_fraction() != 0 ||
      dataset.format() != v1::DATASET_FORMAT_UNSPECIFIED) {
    return Invalid("dataset.tasks",
                   "each task sets its own validation_path, validation_fraction and format: leave them unset on "
                   "dataset");
  }
  if (dataset.tasks_size() > lim::kMaxDatasetTasks) {
    return Invalid("dataset.tasks",
                   absl::StrCat("has ", dataset.tasks_size(), " tasks, more than the limit of ", lim::kMaxDatasetTasks));
  }
  std::set<std::string> names;
  for (int i = 0; i < dataset.tasks_size(); ++i) {
    if (absl::Status s = ValidateTask(dataset.tasks(i), absl::StrCat("dataset.tasks[", i, "]"), names); !s.ok()) {
      return s;
    }
  }
  return ValidateMixing(dataset, evaluation);
}

}  // namespace tunefleet
