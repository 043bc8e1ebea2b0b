#include "common/job_spec_validation.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("job spec field ", field, ": ", why));
}

#define TF_CHECK_FIELD(cond, field, why) \
  if (!(cond)) return Invalid(field, why)

}  // namespace

absl::Status ValidateJobSpec(const v1::JobSpec& spec) {
  TF_CHECK_FIELD(!spec.model().path().empty(), "model.path", "is required (a Hugging Face model directory)");
  TF_CHECK_FIELD(!spec.dataset().path().empty(), "dataset.path", "is required (a JSONL file)");
  const double vf = spec.dataset().validation_fraction();
  TF_CHECK_FIELD(vf >= 0 && vf <= 0.5, "dataset.validation_fraction", absl::StrCat("must be in [0, 0.5], got ", vf));

  if (spec.method().type() == v1::FINE_TUNE_METHOD_LORA) {
    const auto& l = spec.method().lora();
    TF_CHECK_FIELD(l.rank() >= 1 && l.rank() <= 1024, "method.lora.rank", absl::StrCat("must be in [1, 1024], got ", l.rank()));
    TF_CHECK_FIELD(l.alpha() > 0, "method.lora.alpha", "must be positive");
    TF_CHECK_FIELD(l.dropout() >= 0 && l.dropout() < 1, "method.lora.dropout", "must be in [0, 1)");
    static const char* kKnown[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    for (const auto& m : l.target_modules()) {
      bool known = false;
      for (const char* k : kKnown) known = known || m == k;
      TF_CHECK_FIELD(known, "method.lora.target_modules",
                     absl::StrCat("unknown module '", m, "' (one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"));
    }
  }

  const auto& hp = spec.hyperparameters();
  const auto& res = spec.resources();
  TF_CHECK_FIELD(hp.learning_rate() > 0 && hp.learning_rate() < 1, "hyperparameters.learning_rate",
                 absl::StrCat("must be in (0, 1), got ", hp.learning_rate()));
  TF_CHECK_FIELD(hp.warmup_steps() >= 0, "hyperparameters.warmup_steps", "must not be negative");
  TF_CHECK_FIELD(hp.min_lr_ratio() >= 0 && hp.min_lr_ratio() <= 1, "hyperparameters.min_lr_ratio", "must be in [0, 1]");
  TF_CHECK_FIELD(hp.max_steps() >= 0, "hyperparameters.max_steps", "must not be negative");
  TF_CHECK_FIELD(hp.epochs() >= 0, "hyperparameters.epochs", "must not be negative");
  TF_CHECK_FIELD(hp.micro_batch_size() >= 1, "hyperparameters.micro_batch_size", "must be at least 1");
  TF_CHECK_FIELD(hp.sequence_length() >= 8 && hp.sequence_length() <= 1 << 20, "hyperparameters.sequence_length",
                 absl::StrCat("must be in [8, 1048576], got ", hp.sequence_length()));
  TF_CHECK_FIELD(res.world_size() >= 1 && res.world_size() <= 4096, "resources.world_size",
                 absl::StrCat("must be in [1, 4096], got ", res.world_size()));
  TF_CHECK_FIELD(res.gpus_per_rank() >= 0 && res.gpus_per_rank() <= 1, "resources.gpus_per_rank",
                 "must be 0 (CPU) or 1 (a rank is one data-parallel replica; more GPUs: raise world_size)");
  const int64_t per_step = int64_t{hp.micro_batch_size()} * res.world_size();
  TF_CHECK_FIELD(hp.global_batch_size() >= per_step && hp.global_batch_size() % per_step == 0,
                 "hyperparameters.global_batch_size",
                 absl::StrCat("must be a positive multiple of micro_batch_size * world_size = ", per_step,
                              ", got ", hp.global_batch_size()));
  TF_CHECK_FIELD(hp.weight_decay() >= 0, "hyperparameters.weight_decay", "must not be negative");
  TF_CHECK_FIELD(hp.adam_beta1() >= 0 && hp.adam_beta1() < 1, "hyperparameters.adam_beta1", "must be in [0, 1)");
  TF_CHECK_FIELD(hp.adam_beta2() >= 0 && hp.adam_beta2() < 1, "hyperparameters.adam_beta2", "must be in [0, 1)");
  TF_CHECK_FIELD(hp.adam_epsilon() > 0, "hyperparameters.adam_epsilon", "must be positive");
  TF_CHECK_FIELD(hp.max_grad_norm() >= 0, "hyperparameters.max_grad_norm", "must not be negative");

  const auto& par = spec.parallelism();
  TF_CHECK_FIELD(par.zero_stage() >= 0 && par.zero_stage() <= 2, "parallelism.zero_stage",
                 absl::StrCat("must be 0, 1 or 2, got ", par.zero_stage()));
  TF_CHECK_FIELD(par.bucket_size_mb() >= 1 && par.bucket_size_mb() <= 4096, "parallelism.bucket_size_mb", "must be in [1, 4096]");
  TF_CHECK_FIELD(par.collective_timeout_seconds() >= 1, "parallelism.collective_timeout_seconds", "must be at least 1");

  const auto& ckpt = spec.checkpoint();
  TF_CHECK_FIELD(ckpt.interval_steps() >= 0, "checkpoint.interval_steps", "must not be negative");
  TF_CHECK_FIELD(ckpt.interval_seconds() >= 0, "checkpoint.interval_seconds", "must not be negative");
  TF_CHECK_FIELD(ckpt.keep_last() >= 1 && ckpt.keep_last() <= 1000, "checkpoint.keep_last", "must be in [1, 1000]");
  TF_CHECK_FIELD(spec.restart().max_restarts() >= 0, "restart.max_restarts", "must not be negative");

  if (spec.export_().format() == v1::EXPORT_FORMAT_PEFT_ADAPTER ||
      spec.export_().format() == v1::EXPORT_FORMAT_MERGED_MODEL) {
    TF_CHECK_FIELD(spec.method().type() == v1::FINE_TUNE_METHOD_LORA, "export.format",
                   "peft_adapter and merged_model need method.type: lora");
  }
  TF_CHECK_FIELD(spec.evaluation().interval_steps() >= 0, "evaluation.interval_steps", "must not be negative");
  return absl::OkStatus();
}

#undef TF_CHECK_FIELD

}  // namespace tunefleet
