#include "trainer/train/after_training_evaluation.h"

#include "absl/strings/str_cat.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_loader.h"

namespace tunefleet {

namespace {

// How a model trained on data of `data_format` in `chat_template` is prompted.
GenerationFormat FormatFor(const v1::AfterTrainingEvaluation& after, v1::DatasetFormat data_format,
                           v1::ChatTemplate chat_template) {
  GenerationFormat format;
  if (data_format == v1::DATASET_FORMAT_CHAT) {
    format.chat_template = chat_template == v1::CHAT_TEMPLATE_UNSPECIFIED ? v1::CHAT_TEMPLATE_CHATML : chat_template;
  } else {
    format.chat_template = std::nullopt;  // trained on raw text: prompted as raw text
  }
  format.stop_strings.assign(after.stop().begin(), after.stop().end());
  format.max_new_tokens = after.max_new_tokens();
  format.system_message = after.system_message();
  return format;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AfterTrainingEvaluation>> AfterTrainingEvaluation::Prepare(
    const v1::JobSpec& spec, v1::DatasetFormat data_format, const std::vector<v1::DatasetFormat>& task_formats) {
  const v1::AfterTrainingEvaluation& after = spec.evaluation().after_training();
  const GenerationFormat format = FormatFor(after, data_format, spec.dataset().chat_template());
  std::map<std::string, GenerationFormat> by_task;
  for (int i = 0; i < spec.dataset().tasks_size() && i < static_cast<int>(task_formats.size()); ++i) {
    const v1::DatasetTask& task = spec.dataset().tasks(i);
    by_task[task.name()] = FormatFor(after, task_formats[i], task.chat_template());
  }
  auto examples = ReadComparisonExamples(after.data_path(), after.max_examples());
  if (!examples.ok()) {
    return absl::Status(examples.status().code(),
                        absl::StrCat("evaluation.after_training.data_path: ", examples.status().message()));
  }
  return std::unique_ptr<AfterTrainingEvaluation>(
      new AfterTrainingEvaluation(spec, format, std::move(by_task), *std::move(examples)));
}

absl::StatusOr<ScoredModel> AfterTrainingEvaluation::Score(CausalLM& model, const Tokenizer& tokenizer) const {
  if (task_formats_.empty()) return ScoreModel(model, tokenizer, format_, examples_.examples);
  // The examples by the format they are prompted in ("" for the job's own),
  // scored a group at a time and put back in their order.
  std::map<std::string, std::vector<size_t>> groups;
  for (size_t i = 0; i < examples_.examples.size(); ++i) {
    groups[task_formats_.count(examples_.tasks[i]) ? examples_.tasks[i] : std::string()].push_back(i);
  }
  ScoredModel all;
  all.match.per_example.resize(examples_.examples.size());
  all.losses.resize(examples_.examples.size());
  for (const auto& [task, members] : groups) {
    std::vector<PromptAndAnswer> subset;
    for (size_t i : members) subset.push_back(examples_.examples[i]);
    auto scored = ScoreModel(model, tokenizer, task.empty() ? format_ : task_formats_.at(task), subset);
    if (!scored.ok()) return scored.status();
    for (size_t k = 0; k < members.size(); ++k) {
      all.match.per_example[members[k]] = scored->match.per_example[k];
      all.losses[members[k]] = scored->losses[k];
    }
  }
  return all;
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
    auto scored = Score(**baseline, **tokenizer);
    if (!scored.ok()) return absl::Status(scored.status().code(), absl::StrCat("baseline: ", scored.status().message()));
    baseline_scores = *std::move(scored);
  }
  auto candidate_scores = Score(trained, trained_tokenizer);
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
