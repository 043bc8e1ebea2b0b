#include "trainer/train/after_training_evaluation.h"

#include "absl/strings/str_cat.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_loader.h"

namespace tunefleet {

absl::StatusOr<std::unique_ptr<AfterTrainingEvaluation>> AfterTrainingEvaluation::Prepare(
    const v1::JobSpec& spec, v1::DatasetFormat data_format) {
  const v1::AfterTrainingEvaluation& after = spec.evaluation().after_training();
  GenerationFormat format;
  if (data_format == v1::DATASET_FORMAT_CHAT) {
    const v1::ChatTemplate t = spec.dataset().chat_template();
    format.chat_template = t == v1::CHAT_TEMPLATE_UNSPECIFIED ? v1::CHAT_TEMPLATE_CHATML : t;
  } else {
    format.chat_template = std::nullopt;  // trained on raw text: prompted as raw text
  }
  format.stop_strings.assign(after.stop().begin(), after.stop().end());
  format.max_new_tokens = after.max_new_tokens();
  format.system_message = after.system_message();
  auto examples = ReadComparisonExamples(after.data_path(), after.max_examples());
  if (!examples.ok()) {
    return absl::Status(examples.status().code(),
                        absl::StrCat("evaluation.after_training.data_path: ", examples.status().message()));
  }
  return std::unique_ptr<AfterTrainingEvaluation>(
      new AfterTrainingEvaluation(spec, std::move(format), *std::move(examples)));
}

absl::StatusOr<v1::JobEvaluation> AfterTrainingEvaluation::Run(CausalLM& trained,
                                                               const Tokenizer& trained_tokenizer) const {
  const v1::AfterTrainingEvaluation& after = spec_.evaluation().after_training();
  const std::string baseline_model = after.baseline_model().empty() ? spec_.model().path() : after.baseline_model();
  ScoredModel baseline_scores;
  {
    auto tokenizer = LoadBaseTokenizer(baseline_model);
    if (!tokenizer.ok()) return tokenizer.status();
    auto baseline = LoadBaseModel(baseline_model);
    if (!baseline.ok()) return baseline.status();
    if (!after.baseline_adapter().empty()) {
      if (auto s = LoadPeftAdapter(**baseline, after.baseline_adapter()); !s.ok()) return s;
    }
    const torch::Tensor like = trained.lm_head_weight();
    try {
      (*baseline)->to(like.device(), like.scalar_type());
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("moving the baseline to ", like.device().str(), ": ", e.what()));
    }
    auto scored = ScoreModel(**baseline, **tokenizer, format_, examples_.examples);
    if (!scored.ok()) return absl::Status(scored.status().code(), absl::StrCat("baseline: ", scored.status().message()));
    baseline_scores = *std::move(scored);
  }
  auto candidate_scores = ScoreModel(trained, trained_tokenizer, format_, examples_.examples);
  if (!candidate_scores.ok()) {
    return absl::Status(candidate_scores.status().code(),
                        absl::StrCat("trained model: ", candidate_scores.status().message()));
  }
  BootstrapOptions bootstrap;
  bootstrap.resamples = after.bootstrap_resamples();
  bootstrap.seed = spec_.hyperparameters().seed();
  auto evaluation = ComparePairedScores(examples_, baseline_scores, *candidate_scores, bootstrap);
  if (!evaluation.ok()) return evaluation.status();
  evaluation->set_baseline(after.baseline_adapter().empty() ? baseline_model
                                                            : absl::StrCat(baseline_model, " + ", after.baseline_adapter()));
  evaluation->set_candidate(spec_.display_name().empty() ? "the trained model"
                                                         : absl::StrCat("the trained model (", spec_.display_name(), ")"));
  return evaluation;
}

}  // namespace tunefleet
