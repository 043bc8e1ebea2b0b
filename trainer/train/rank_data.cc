#include "trainer/train/rank_data.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/data/batch_sampler.h"

namespace tunefleet {
namespace {

torch::Tensor ToTensor(const std::vector<int64_t>& values, int rows, int seq_len, const torch::Device& device) {
  // from_blob borrows; clone so the tensor owns its memory past `values`.
  auto t = torch::from_blob(const_cast<int64_t*>(values.data()), {rows, seq_len}, torch::kInt64).clone();
  return device.is_cpu() ? t : t.to(device);
}

std::vector<BatchTensors> ValidationShare(const PackedDataset& val, const v1::JobSpec& spec, int rank, int world_size,
                                          const torch::Device& device) {
  std::vector<BatchTensors> batches;
  for (const auto& indices : EvalMicroBatches(val.num_sequences(), spec.hyperparameters().micro_batch_size(), rank,
                                              world_size, spec.evaluation().max_batches())) {
    batches.push_back(ToTensors(val.Gather(indices), device));
  }
  return batches;
}

}  // namespace

BatchTensors ToTensors(const MicroBatch& batch, const torch::Device& device) {
  BatchTensors t;
  t.input_ids = ToTensor(batch.input_ids, batch.rows, batch.seq_len, device);
  t.labels = ToTensor(batch.labels, batch.rows, batch.seq_len, device);
  t.position_ids = ToTensor(batch.position_ids, batch.rows, batch.seq_len, device);
  t.segment_ids = ToTensor(batch.segment_ids, batch.rows, batch.seq_len, device);
  t.loss_tokens = batch.loss_tokens;
  for (int64_t s : batch.segment_ids) t.real_tokens += s != kPadSegmentId;
  return t;
}

absl::StatusOr<std::unique_ptr<RankData>> RankData::Load(const v1::JobSpec& spec, const Tokenizer& tokenizer,
                                                         int rank, int world_size, const torch::Device& device) {
  std::unique_ptr<RankData> self(new RankData(device));
  absl::Status loaded = spec.dataset().tasks_size() > 0 ? self->LoadTasks(spec, tokenizer, rank, world_size)
                                                         : self->LoadSingle(spec, tokenizer, rank, world_size);
  if (!loaded.ok()) return loaded;
  const auto& hp = spec.hyperparameters();
  auto total = TotalTrainingSteps(hp.max_steps(), hp.epochs(), self->steps_per_epoch_);
  if (!total.ok()) return total.status();
  self->total_steps_ = *total;
  return self;
}

absl::Status RankData::LoadSingle(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank, int world_size) {
  const auto& hp = spec.hyperparameters();
  auto data = LoadTrainingData(DataPipelineOptions::FromSpec(spec.dataset(), hp), tokenizer);
  if (!data.ok()) return data.status();
  data_ = *std::move(data);

  SamplerOptions sampler;
  sampler.num_sequences = data_->train.num_sequences();
  sampler.global_batch_size = hp.global_batch_size();
  sampler.micro_batch_size = hp.micro_batch_size();
  sampler.world_size = world_size;
  sampler.rank = rank;
  sampler.seed = hp.seed();
  auto created = BatchSampler::Create(sampler);
  if (!created.ok()) return created.status();
  loader_ = std::make_unique<DataLoader>(data_->train, std::move(*created));
  steps_per_epoch_ = loader_->steps_per_epoch();
  grad_accum_steps_ = loader_->grad_accum_steps();

  validation_sets_.emplace_back();
  if (data_->validation.has_value()) {
    validation_sets_.back() = ValidationShare(*data_->validation, spec, rank, world_size, device_);
  }
  return absl::OkStatus();
}

absl::Status RankData::LoadTasks(const v1::JobSpec& spec, const Tokenizer& tokenizer, int rank, int world_size) {
  const auto& hp = spec.hyperparameters();
  auto tasks = LoadTaskData(spec.dataset(), hp, tokenizer);
  if (!tasks.ok()) return tasks.status();
  tasks_ = *std::move(tasks);
  mixing_ = spec.dataset().mixing();

  TaskMixOptions options;
  for (const TaskTrainingData& task : tasks_) {
    if (task.data.train.num_sequences() == 0) {
      return absl::FailedPreconditionError(absl::StrCat("task ", task.name, ": no training sequence"));
    }
    options.task_sequences.push_back(task.data.train.num_sequences());
  }
  options.global_batch_size = hp.global_batch_size();
  options.micro_batch_size = hp.micro_batch_size();
  options.world_size = world_size;
  options.rank = rank;
  options.seed = hp.seed();
  auto mix = TaskMixSampler::Create(
      options, InitialMixProbabilities(mixing_.strategy(), task_weights(), options.task_sequences,
                                       mixing_.temperature()));
  if (!mix.ok()) return mix.status();
  mix_ = *std::move(mix);
  steps_per_epoch_ = mix_->steps_per_epoch();
  grad_accum_steps_ = mix_->grad_accum_steps();

  for (const TaskTrainingData& task : tasks_) {
    validation_sets_.emplace_back();
    if (task.data.validation.has_value()) {
      validation_sets_.back() = ValidationShare(*task.data.validation, spec, rank, world_size, device_);
    }
  }
  return absl::OkStatus();
}

v1::DatasetFormat RankData::format() const {
  if (data_.has_value()) return data_->format;
  return tasks_.empty() ? v1::DATASET_FORMAT_UNSPECIFIED : tasks_.front().data.format;
}

std::vector<v1::DatasetFormat> RankData::task_formats() const {
  std::vector<v1::DatasetFormat> formats;
  for (const TaskTrainingData& task : tasks_) formats.push_back(task.data.format);
  return formats;
}

std::string RankData::Summary() const {
  return data_.has_value() ? data_->Summary() : TasksSummary(tasks_, mix_probabilities());
}

std::vector<std::string> RankData::task_names() const {
  std::vector<std::string> names;
  for (const TaskTrainingData& task : tasks_) names.push_back(task.name);
  return names;
}

std::vector<double> RankData::task_weights() const {
  std::vector<double> weights;
  for (const TaskTrainingData& task : tasks_) weights.push_back(task.weight);
  return weights;
}

std::vector<double> RankData::mix_probabilities() const {
  return mix_.has_value() ? mix_->state().probabilities : std::vector<double>();
}

absl::Status RankData::SetMixProbabilities(std::vector<double> probabilities) {
  if (!mix_.has_value()) return absl::FailedPreconditionError("not a multi-task job");
  return mix_->SetProbabilities(std::move(probabilities));
}

std::map<std::string, std::string> RankData::SaveDataState(int64_t step) const {
  if (!mix_.has_value()) return {};
  // Saved after ForStep(step - 1): the state stands before `step`.
  TaskMixState state = mix_->state();
  state.step = step;
  return {{kTaskMixStateKey, state.Serialize()}};
}

absl::Status RankData::RestoreDataState(const std::map<std::string, std::string>& extra, int64_t step) {
  if (!mix_.has_value()) return absl::OkStatus();
  const auto it = extra.find(kTaskMixStateKey);
  if (it == extra.end()) {
    return absl::FailedPreconditionError("the checkpoint has no task mix state: it was not saved by a multi-task job");
  }
  auto state = TaskMixState::Parse(it->second);
  if (!state.ok()) return state.status();
  if (state->step != step) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint of step ", step, " holds the task mix state of step ", state->step));
  }
  return mix_->Restore(*state);
}

StepBatches RankData::ForStep(int64_t step) {
  if (mix_.has_value()) return ForStepOfMix(step);
  StepBatches out;
  out.position = loader_->sampler().PositionOfStep(step);
  out.global_loss_tokens = loader_->GlobalLossTokens(out.position);
  for (int micro = 0; micro < loader_->grad_accum_steps(); ++micro) {
    out.micro_batches.push_back(ToTensors(loader_->Load(out.position, micro), device_));
  }
  return out;
}

StepBatches RankData::ForStepOfMix(int64_t step) {
  StepBatches out;
  out.position = DataPosition{step / steps_per_epoch_, step % steps_per_epoch_};
  const std::vector<TaskSequence> global = mix_->GlobalBatch(step);
  out.tasks.resize(tasks_.size());
  for (const TaskSequence& slot : global) {
    const PackedDataset& data = tasks_[static_cast<size_t>(slot.task)].data.train;
    TaskStepCounts& counts = out.tasks[static_cast<size_t>(slot.task)];
    counts.loss_tokens += data.loss_tokens(slot.sequence);
    counts.tokens += data.tokens(slot.sequence);
    counts.examples += data.examples(slot.sequence);
    out.global_loss_tokens += data.loss_tokens(slot.sequence);
  }
  for (int micro = 0; micro < grad_accum_steps_; ++micro) {
    const std::vector<TaskSequence> slots = mix_->MicroBatch(global, micro);
    // Rows from several packed sets: every task shares the job's sequence length.
    MicroBatch batch;
    batch.rows = static_cast<int>(slots.size());
    batch.seq_len = tasks_.front().data.train.sequence_length();
    const size_t n = slots.size() * static_cast<size_t>(batch.seq_len);
    batch.input_ids.resize(n);
    batch.labels.resize(n);
    batch.position_ids.resize(n);
    batch.segment_ids.resize(n);
    std::vector<int64_t> row_tasks;
    std::vector<float> row_loss_weights;
    for (size_t row = 0; row < slots.size(); ++row) {
      const TaskTrainingData& task = tasks_[static_cast<size_t>(slots[row].task)];
      task.data.train.WriteRow(slots[row].sequence, static_cast<int>(row), &batch);
      row_tasks.push_back(slots[row].task);
      row_loss_weights.push_back(static_cast<float>(task.loss_weight));
    }
    BatchTensors tensors = ToTensors(batch, device_);
    const auto rows = static_cast<int64_t>(slots.size());
    tensors.row_tasks = torch::tensor(row_tasks, torch::kInt64).reshape({rows});
    tensors.row_loss_weights = torch::tensor(row_loss_weights, torch::kFloat32).reshape({rows});
    if (!device_.is_cpu()) {
      tensors.row_tasks = tensors.row_tasks.to(device_);
      tensors.row_loss_weights = tensors.row_loss_weights.to(device_);
    }
    out.micro_batches.push_back(std::move(tensors));
  }
  return out;
}

}  // namespace tunefleet
