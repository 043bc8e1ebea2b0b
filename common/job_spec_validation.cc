#include "common/job_spec_validation.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/job_spec_limits.h"
#include "common/job_spec_task_validation.h"

namespace tunefleet {
namespace {

namespace lim = job_spec_limits;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("job spec field ", field, ": ", why));
}

#define TF_CHECK_FIELD(cond, field, why) \
  if (!(cond)) return Invalid(field, why)

// Every float must be finite before it is compared: NaN fails every
// comparison and Infinity passes "> 0", so a range check alone lets them in
// and a later cast to an integer is undefined behaviour.
absl::Status CheckFinite(absl::string_view field, double v, double lo, double hi, bool lo_open = false,
                         bool hi_open = false) {
  const bool in = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  if (in) return absl::OkStatus();
  return Invalid(field, absl::StrCat("must be a finite number in ", lo_open ? "(" : "[", lo, ", ", hi,
                                     hi_open ? ")" : "]", ", got ", v));
}

template <typename T>
absl::Status CheckRange(absl::string_view field, T v, T lo, T hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();
  return Invalid(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", v));
}

absl::Status CheckString(absl::string_view field, const std::string& s, int64_t max_bytes) {
  if (static_cast<int64_t>(s.size()) > max_bytes) {
    return Invalid(field, absl::StrCat("is ", s.size(), " bytes, more than the limit of ", max_bytes));
  }
  if (s.find('\0') != std::string::npos) return Invalid(field, "must not contain a NUL byte");
  return absl::OkStatus();
}

#define TF_RETURN_IF_ERROR(expr) \
  if (absl::Status _s = (expr); !_s.ok()) return _s

absl::Status ValidateStringsAndEnums(const v1::JobSpec& spec) {
  TF_RETURN_IF_ERROR(CheckString("display_name", spec.display_name(), lim::kMaxDisplayNameBytes));
  TF_RETURN_IF_ERROR(CheckString("model.path", spec.model().path(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(CheckString("dataset.path", spec.dataset().path(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(CheckString("dataset.validation_path", spec.dataset().validation_path(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(CheckString("checkpoint.directory", spec.checkpoint().directory(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(CheckString("export.directory", spec.export_().directory(), lim::kMaxPathBytes));
  const v1::AfterTrainingEvaluation& after = spec.evaluation().after_training();
  TF_RETURN_IF_ERROR(CheckString("evaluation.after_training.data_path", after.data_path(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(
      CheckString("evaluation.after_training.baseline_model", after.baseline_model(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(
      CheckString("evaluation.after_training.baseline_adapter", after.baseline_adapter(), lim::kMaxPathBytes));
  TF_RETURN_IF_ERROR(
      CheckString("evaluation.after_training.system_message", after.system_message(), lim::kMaxSystemMessageBytes));
  TF_CHECK_FIELD(after.stop_size() <= lim::kMaxAfterTrainingStops, "evaluation.after_training.stop",
                 absl::StrCat("has ", after.stop_size(), " entries, more than ", lim::kMaxAfterTrainingStops));
  for (const std::string& stop : after.stop()) {
    TF_RETURN_IF_ERROR(CheckString("evaluation.after_training.stop", stop, lim::kMaxAfterTrainingStopBytes));
    TF_CHECK_FIELD(!stop.empty(), "evaluation.after_training.stop", "must not hold an empty string");
  }
  // proto3 enums are open: a client may send any number.
  TF_CHECK_FIELD(v1::DatasetFormat_IsValid(spec.dataset().format()), "dataset.format", "unknown value");
  TF_CHECK_FIELD(v1::ChatTemplate_IsValid(spec.dataset().chat_template()), "dataset.chat_template", "unknown value");
  TF_CHECK_FIELD(v1::FineTuneMethod_IsValid(spec.method().type()), "method.type", "unknown value");
  TF_CHECK_FIELD(v1::LrSchedule_IsValid(spec.hyperparameters().lr_schedule()), "hyperparameters.lr_schedule",
                 "unknown value");
  TF_CHECK_FIELD(v1::Precision_IsValid(spec.hyperparameters().precision()), "hyperparameters.precision",
                 "unknown value");
  TF_CHECK_FIELD(v1::ExportFormat_IsValid(spec.export_().format()), "export.format", "unknown value");
  TF_CHECK_FIELD(v1::BaseQuantization_IsValid(spec.model().quantize()), "model.quantize", "unknown value");
  return absl::OkStatus();
}

bool HasValidationData(const v1::JobSpec& spec) {
  return !spec.dataset().validation_path().empty() || spec.dataset().validation_fraction() > 0;
}

// Early stopping and keep-best judge by the validation loss, so they need
// it evaluated during training; the after-training stage needs its data.
absl::Status ValidateEvaluation(const v1::JobSpec& spec) {
  const v1::EvaluationSpec& e = spec.evaluation();
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("evaluation.early_stopping_patience", e.early_stopping_patience(), 0,
                                         lim::kMaxEarlyStoppingPatience));
  TF_RETURN_IF_ERROR(CheckFinite("evaluation.early_stopping_min_delta", e.early_stopping_min_delta(), 0,
                                 lim::kMaxEarlyStoppingMinDelta, false, /*hi_open=*/true));
  const bool judged = e.early_stopping_patience() > 0 || spec.checkpoint().keep_best();
  const char* which = e.early_stopping_patience() > 0 ? "evaluation.early_stopping_patience" : "checkpoint.keep_best";
  if (judged) {
    TF_CHECK_FIELD(e.interval_steps() > 0, which, "needs evaluation.interval_steps (the validation loss it judges by)");
    TF_CHECK_FIELD(HasValidationData(spec), which,
                   "needs validation data (dataset.validation_path or dataset.validation_fraction)");
  }
  if (spec.checkpoint().keep_best()) {
    TF_CHECK_FIELD(!spec.checkpoint().directory().empty(), "checkpoint.keep_best", "needs checkpoint.directory");
  }
  if (e.has_after_training()) {
    const v1::AfterTrainingEvaluation& a = e.after_training();
    TF_CHECK_FIELD(!a.data_path().empty(), "evaluation.after_training.data_path",
                   "is required (a held-out JSONL of prompt/completion records)");
    TF_RETURN_IF_ERROR(CheckRange<int32_t>("evaluation.after_training.max_examples", a.max_examples(), 0,
                                           lim::kMaxAfterTrainingExamples));
    TF_RETURN_IF_ERROR(CheckRange<int32_t>("evaluation.after_training.max_new_tokens", a.max_new_tokens(), 1,
                                           lim::kMaxAfterTrainingNewTokens));
    TF_RETURN_IF_ERROR(CheckRange<int32_t>("evaluation.after_training.bootstrap_resamples", a.bootstrap_resamples(),
                                           lim::kMinBootstrapResamples, lim::kMaxBootstrapResamples));
  }
  return absl::OkStatus();
}

absl::Status ValidateLora(const v1::LoraSpec& l) {
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("method.lora.rank", l.rank(), 1, lim::kMaxLoraRank));
  TF_RETURN_IF_ERROR(CheckFinite("method.lora.alpha", l.alpha(), 0, lim::kMaxLoraAlpha, /*lo_open=*/true));
  TF_RETURN_IF_ERROR(CheckFinite("method.lora.dropout", l.dropout(), 0, 1, false, /*hi_open=*/true));
  TF_CHECK_FIELD(l.target_modules_size() <= lim::kMaxLoraTargetModules, "method.lora.target_modules",
                 absl::StrCat("has ", l.target_modules_size(), " entries, more than the ", lim::kMaxLoraTargetModules,
                              " projections there are"));
  static const char* kKnown[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  for (const auto& m : l.target_modules()) {
    bool known = false;
    for (const char* k : kKnown) known = known || m == k;
    // Not echoed whole: the name may be anything a client sent.
    TF_CHECK_FIELD(known, "method.lora.target_modules",
                   absl::StrCat("unknown module '", m.substr(0, 64), m.size() > 64 ? "...'" : "'",
                                " (one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTraining(const v1::HyperParameters& hp, const v1::ResourceSpec& res) {
  TF_RETURN_IF_ERROR(
      CheckFinite("hyperparameters.learning_rate", hp.learning_rate(), 0, 1, /*lo_open=*/true, /*hi_open=*/true));
  TF_RETURN_IF_ERROR(CheckRange<int64_t>("hyperparameters.warmup_steps", hp.warmup_steps(), 0, lim::kMaxSteps));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.min_lr_ratio", hp.min_lr_ratio(), 0, 1));
  TF_RETURN_IF_ERROR(CheckRange<int64_t>("hyperparameters.max_steps", hp.max_steps(), 0, lim::kMaxSteps));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.epochs", hp.epochs(), 0, lim::kMaxEpochs));
  TF_RETURN_IF_ERROR(
      CheckRange<int32_t>("hyperparameters.micro_batch_size", hp.micro_batch_size(), 1, lim::kMaxMicroBatchSize));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("hyperparameters.sequence_length", hp.sequence_length(),
                                         lim::kMinSequenceLength, lim::kMaxSequenceLength));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("resources.world_size", res.world_size(), 1, lim::kMaxWorldSize));
  TF_CHECK_FIELD(res.gpus_per_rank() >= 0 && res.gpus_per_rank() <= 1, "resources.gpus_per_rank",
                 "must be 0 (CPU) or 1 (a rank is one data-parallel replica; more GPUs: raise world_size)");
  const int64_t per_step = int64_t{hp.micro_batch_size()} * res.world_size();
  TF_CHECK_FIELD(hp.global_batch_size() >= per_step && hp.global_batch_size() % per_step == 0,
                 "hyperparameters.global_batch_size",
                 absl::StrCat("must be a positive multiple of micro_batch_size * world_size = ", per_step,
                              ", got ", hp.global_batch_size()));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("hyperparameters.global_batch_size", hp.global_batch_size(), 1,
                                         lim::kMaxGlobalBatchSize));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.weight_decay", hp.weight_decay(), 0, lim::kMaxWeightDecay));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.adam_beta1", hp.adam_beta1(), 0, 1, false, /*hi_open=*/true));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.adam_beta2", hp.adam_beta2(), 0, 1, false, /*hi_open=*/true));
  TF_RETURN_IF_ERROR(
      CheckFinite("hyperparameters.adam_epsilon", hp.adam_epsilon(), 0, lim::kMaxAdamEpsilon, /*lo_open=*/true));
  TF_RETURN_IF_ERROR(CheckFinite("hyperparameters.max_grad_norm", hp.max_grad_norm(), 0, lim::kMaxGradNorm));
  return absl::OkStatus();
}

absl::Status ValidateOperations(const v1::JobSpec& spec) {
  const auto& par = spec.parallelism();
  TF_CHECK_FIELD(par.zero_stage() >= 0 && par.zero_stage() <= 2, "parallelism.zero_stage",
                 absl::StrCat("must be 0, 1 or 2, got ", par.zero_stage()));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("parallelism.bucket_size_mb", par.bucket_size_mb(), 1, lim::kMaxBucketSizeMb));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("parallelism.collective_timeout_seconds", par.collective_timeout_seconds(),
                                         1, lim::kMaxCollectiveTimeoutSeconds));
  const auto& ckpt = spec.checkpoint();
  TF_RETURN_IF_ERROR(CheckRange<int64_t>("checkpoint.interval_steps", ckpt.interval_steps(), 0, lim::kMaxSteps));
  TF_RETURN_IF_ERROR(CheckRange<int64_t>("checkpoint.interval_seconds", ckpt.interval_seconds(), 0,
                                         lim::kMaxCheckpointIntervalSeconds));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("checkpoint.keep_last", ckpt.keep_last(), 1, lim::kMaxKeepLast));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("restart.max_restarts", spec.restart().max_restarts(), 0, lim::kMaxRestarts));
  if (spec.export_().format() == v1::EXPORT_FORMAT_PEFT_ADAPTER ||
      spec.export_().format() == v1::EXPORT_FORMAT_MERGED_MODEL) {
    TF_CHECK_FIELD(spec.method().type() == v1::FINE_TUNE_METHOD_LORA, "export.format",
                   "peft_adapter and merged_model need method.type: lora");
  }
  TF_RETURN_IF_ERROR(
      CheckRange<int64_t>("evaluation.interval_steps", spec.evaluation().interval_steps(), 0, lim::kMaxSteps));
  TF_RETURN_IF_ERROR(
      CheckRange<int32_t>("evaluation.max_batches", spec.evaluation().max_batches(), 0, lim::kMaxEvalBatches));
  return ValidateEvaluation(spec);
}

}  // namespace

absl::Status ValidateJobSpec(const v1::JobSpec& spec) {
  const size_t bytes = spec.ByteSizeLong();
  TF_CHECK_FIELD(bytes <= static_cast<size_t>(lim::kMaxSpecBytes), "(whole spec)",
                 absl::StrCat("is ", bytes, " bytes serialized, more than the limit of ", lim::kMaxSpecBytes));
  TF_RETURN_IF_ERROR(ValidateStringsAndEnums(spec));
  TF_CHECK_FIELD(!spec.model().path().empty(), "model.path", "is required (a Hugging Face model directory)");
  TF_CHECK_FIELD(!spec.dataset().path().empty() || spec.dataset().tasks_size() > 0, "dataset.path",
                 "is required (a JSONL file), or else dataset.tasks");
  TF_RETURN_IF_ERROR(ValidateDatasetTasks(spec.dataset(), spec.evaluation()));
  TF_RETURN_IF_ERROR(CheckRange<int32_t>("priority", spec.priority(), -lim::kMaxAbsPriority, lim::kMaxAbsPriority));
  TF_RETURN_IF_ERROR(CheckFinite("dataset.validation_fraction", spec.dataset().validation_fraction(), 0, 0.5));
  if (spec.method().type() == v1::FINE_TUNE_METHOD_LORA) TF_RETURN_IF_ERROR(ValidateLora(spec.method().lora()));
  // A 4-bit base cannot be trained: only LoRA's adapters learn over it.
  TF_CHECK_FIELD(spec.model().quantize() != v1::BASE_QUANTIZATION_NF4 ||
                     spec.method().type() == v1::FINE_TUNE_METHOD_LORA,
                 "model.quantize", "nf4 needs method.type: lora (the quantised base is frozen)");
  TF_RETURN_IF_ERROR(ValidateTraining(spec.hyperparameters(), spec.resources()));
  return ValidateOperations(spec);
}

#undef TF_RETURN_IF_ERROR
#undef TF_CHECK_FIELD

}  // namespace tunefleet
