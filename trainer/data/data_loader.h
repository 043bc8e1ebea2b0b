#pragma once
// One rank's training data: a packed dataset read through a batch sampler.

#include <cstdint>
#include <utility>
#include <vector>

#include "trainer/data/batch_sampler.h"
#include "trainer/data/micro_batch.h"
#include "trainer/data/packer.h"

namespace tunefleet {

class DataLoader {
 public:
  // `data` must outlive the loader; the sampler was made for data.num_sequences().
  DataLoader(const PackedDataset& data, BatchSampler sampler) : data_(&data), sampler_(std::move(sampler)) {}

  const BatchSampler& sampler() const { return sampler_; }
  int grad_accum_steps() const { return sampler_.grad_accum_steps(); }
  int64_t steps_per_epoch() const { return sampler_.steps_per_epoch(); }

  // This rank's micro-batch `micro` of the optimizer step at `pos`.
  MicroBatch Load(const DataPosition& pos, int micro) const {
    return data_->Gather(sampler_.MicroBatchIndices(pos, micro));
  }

  // Labels that count in the whole global batch at `pos`, over all ranks:
  // divide each micro-batch's summed loss by it and the gradients add up to
  // the mean over the global batch's tokens, with no collective to count them.
  int64_t GlobalLossTokens(const DataPosition& pos) const {
    int64_t n = 0;
    for (int64_t s : sampler_.GlobalBatch(pos)) n += data_->loss_tokens(s);
    return n;
  }

 private:
  const PackedDataset* data_;
  BatchSampler sampler_;
};

}  // namespace tunefleet
