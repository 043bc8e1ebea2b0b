#include "common/job_spec_defaults.h"

#include <cstdint>
#include <limits>

namespace tunefleet {

v1::JobSpec WithDefaults(v1::JobSpec spec) {
  auto& data = *spec.mutable_dataset();
  if (data.chat_template() == v1::CHAT_TEMPLATE_UNSPECIFIED) data.set_chat_template(v1::CHAT_TEMPLATE_CHATML);
  if (!data.has_packing()) data.set_packing(true);
  for (auto& task : *data.mutable_tasks()) {
    if (task.chat_template() == v1::CHAT_TEMPLATE_UNSPECIFIED) task.set_chat_template(data.chat_template());
    if (task.weight() == 0) task.set_weight(1);
    if (task.loss_weight() == 0) task.set_loss_weight(1);
  }
  if (data.tasks_size() > 0) {
    auto& mixing = *data.mutable_mixing();
    if (mixing.strategy() == v1::TASK_MIXING_STRATEGY_UNSPECIFIED) mixing.set_strategy(v1::TASK_MIXING_STRATEGY_STATIC);
    if (mixing.temperature() == 0) mixing.set_temperature(1);
    if (mixing.min_probability() == 0 && mixing.strategy() == v1::TASK_MIXING_STRATEGY_INVERSE_VALIDATION_LOSS) {
      mixing.set_min_probability(0.5 / data.tasks_size());
    }
  }

  auto& method = *spec.mutable_method();
  if (method.type() == v1::FINE_TUNE_METHOD_UNSPECIFIED) method.set_type(v1::FINE_TUNE_METHOD_FULL);
  const bool lora = method.type() == v1::FINE_TUNE_METHOD_LORA;
  if (lora) {
    auto& l = *method.mutable_lora();
    if (l.rank() == 0) l.set_rank(8);
    if (l.alpha() == 0) l.set_alpha(2.0 * l.rank());
    if (l.target_modules().empty()) {
      l.add_target_modules("q_proj");
      l.add_target_modules("v_proj");
    }
  }

  auto& res = *spec.mutable_resources();
  if (res.world_size() == 0) res.set_world_size(1);

  auto& hp = *spec.mutable_hyperparameters();
  if (hp.learning_rate() == 0) hp.set_learning_rate(lora ? 2e-4 : 2e-5);
  if (hp.lr_schedule() == v1::LR_SCHEDULE_UNSPECIFIED) hp.set_lr_schedule(v1::LR_SCHEDULE_COSINE);
  if (hp.max_steps() == 0 && hp.epochs() == 0) hp.set_epochs(1);
  if (hp.micro_batch_size() == 0) hp.set_micro_batch_size(1);
  if (hp.global_batch_size() == 0) {
    // In int64: defaults run before validation, on any int32s a client sent
    // (found by fuzz/job_spec_proto_fuzz: the int product overflowed). A
    // product past int32 is left unset for ValidateJobSpec to refuse.
    const int64_t per_step = int64_t{hp.micro_batch_size()} * res.world_size();
    if (per_step > 0 && per_step <= std::numeric_limits<int32_t>::max()) {
      hp.set_global_batch_size(static_cast<int32_t>(per_step));
    }
  }
  if (hp.sequence_length() == 0) hp.set_sequence_length(512);
  if (hp.precision() == v1::PRECISION_UNSPECIFIED) {
    hp.set_precision(res.gpus_per_rank() > 0 ? v1::PRECISION_BF16 : v1::PRECISION_FP32);
  }
  if (hp.adam_beta1() == 0) hp.set_adam_beta1(0.9);
  if (hp.adam_beta2() == 0) hp.set_adam_beta2(0.999);
  if (hp.adam_epsilon() == 0) hp.set_adam_epsilon(1e-8);
  if (hp.max_grad_norm() == 0) hp.set_max_grad_norm(1.0);

  auto& par = *spec.mutable_parallelism();
  if (!par.has_zero_stage()) par.set_zero_stage(1);
  if (par.bucket_size_mb() == 0) par.set_bucket_size_mb(25);
  if (par.collective_timeout_seconds() == 0) par.set_collective_timeout_seconds(300);

  auto& ckpt = *spec.mutable_checkpoint();
  if (ckpt.keep_last() == 0) ckpt.set_keep_last(3);
  if (!ckpt.has_async_save()) ckpt.set_async_save(true);

  if (spec.evaluation().has_after_training()) {
    auto& after = *spec.mutable_evaluation()->mutable_after_training();
    if (after.max_new_tokens() == 0) after.set_max_new_tokens(64);
    if (after.bootstrap_resamples() == 0) after.set_bootstrap_resamples(2000);
  }

  if (!spec.restart().has_max_restarts()) spec.mutable_restart()->set_max_restarts(3);

  auto& exp = *spec.mutable_export_();
  if (exp.format() == v1::EXPORT_FORMAT_UNSPECIFIED) {
    exp.set_format(lora ? v1::EXPORT_FORMAT_PEFT_ADAPTER : v1::EXPORT_FORMAT_HF_MODEL);
  }
  return spec;
}

}  // namespace tunefleet
