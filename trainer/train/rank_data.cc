#include "trainer/train/rank_data.h"

#include <utility>

#include "trainer/data/batch_sampler.h"

namespace tunefleet {
namespace {

torch::Tensor ToTensor(const std::vector<int64_t>& values, int rows, int seq_len, const torch::Device& device) {
  // from_blob borrows; clone so the tensor owns its memory past `values`.
  auto t = torch::from_blob(const_cast<int64_t*>(values.data()), {rows, seq_len}, torch::kInt64).clone();
  return device.is_cpu() ? t : t.to(device);
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
  const auto& hp = spec.hyperparameters();
  auto data = LoadTrainingData(DataPipelineOptions::FromSpec(spec.dataset(), hp), tokenizer);
  if (!data.ok()) return data.status();
  std::unique_ptr<RankData> self(new RankData(std::move(*data), device));

  SamplerOptions sampler;
  sampler.num_sequences = self->data_.train.num_sequences();
  sampler.global_batch_size = hp.global_batch_size();
  sampler.micro_batch_size = hp.micro_batch_size();
  sampler.world_size = world_size;
  sampler.rank = rank;
  sampler.seed = hp.seed();
  auto created = BatchSampler::Create(sampler);
  if (!created.ok()) return created.status();
  self->loader_ = std::make_unique<DataLoader>(self->data_.train, std::move(*created));

  auto total = TotalTrainingSteps(hp.max_steps(), hp.epochs(), self->loader_->steps_per_epoch());
  if (!total.ok()) return total.status();
  self->total_steps_ = *total;

  if (self->data_.validation.has_value()) {
    const PackedDataset& val = *self->data_.validation;
    for (const auto& indices : EvalMicroBatches(val.num_sequences(), hp.micro_batch_size(), rank, world_size,
                                                spec.evaluation().max_batches())) {
      self->validation_.push_back(ToTensors(val.Gather(indices), device));
    }
  }
  return self;
}

StepBatches RankData::ForStep(int64_t step) const {
  StepBatches out;
  out.position = loader_->sampler().PositionOfStep(step);
  out.global_loss_tokens = loader_->GlobalLossTokens(out.position);
  for (int micro = 0; micro < loader_->grad_accum_steps(); ++micro) {
    out.micro_batches.push_back(ToTensors(loader_->Load(out.position, micro), device_));
  }
  return out;
}

}  // namespace tunefleet
