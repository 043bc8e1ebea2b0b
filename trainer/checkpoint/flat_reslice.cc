#include "trainer/checkpoint/flat_reslice.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"

namespace tunefleet {

int64_t PaddedFlatNumel(int64_t numel, int world_size) {
  return (numel + world_size - 1) / world_size * world_size;
}

FlatRange ShardRangeForRank(int64_t padded_numel, int world_size, int rank) {
  const int64_t share = padded_numel / world_size;
  return FlatRange{share * rank, share * (rank + 1)};
}

namespace {

absl::StatusOr<torch::Tensor> Reslice(const std::vector<FlatShard>& shards, int64_t numel, FlatRange target) {
  if (shards.empty()) return absl::InvalidArgumentError("no shards to re-slice from");
  if (target.begin < 0 || target.end < target.begin) {
    return absl::InvalidArgumentError(absl::StrCat("bad target range [", target.begin, ", ", target.end, ")"));
  }
  const torch::ScalarType dtype = shards.front().values.scalar_type();
  std::vector<const FlatShard*> order;
  for (const FlatShard& s : shards) {
    if (s.values.dim() != 1 || s.values.numel() != s.end - s.begin) {
      return absl::InvalidArgumentError(absl::StrCat("shard [", s.begin, ", ", s.end, ") holds ",
                                                     s.values.numel(), " elements in ", s.values.dim(), " dims"));
    }
    if (s.values.scalar_type() != dtype) {
      return absl::InvalidArgumentError(absl::StrCat("shard [", s.begin, ", ", s.end, ") is ",
                                                     c10::toString(s.values.scalar_type()), ", not ",
                                                     c10::toString(dtype)));
    }
    order.push_back(&s);
  }
  std::sort(order.begin(), order.end(), [](const FlatShard* a, const FlatShard* b) { return a->begin < b->begin; });

  // Zeros: the padding past `numel` is zero by the FlatParameters contract.
  torch::Tensor out = torch::zeros({target.size()}, torch::TensorOptions().dtype(dtype));
  const int64_t real_end = std::min(target.end, numel);
  int64_t cursor = target.begin;  // the next real element still to fill
  for (const FlatShard* s : order) {
    if (cursor >= real_end) break;
    if (s->end <= cursor) continue;
    if (s->begin > cursor) break;  // a hole before this shard
    const int64_t copy_end = std::min(s->end, real_end);
    out.narrow(0, cursor - target.begin, copy_end - cursor)
        .copy_(s->values.narrow(0, cursor - s->begin, copy_end - cursor));
    cursor = copy_end;
  }
  if (cursor < real_end) {
    return absl::DataLossError(absl::StrCat("no saved shard covers flat element ", cursor, " (needed for [",
                                            target.begin, ", ", target.end, ") of ", numel, " real elements)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<torch::Tensor> ResliceFlatRange(const std::vector<FlatShard>& shards, int64_t numel, FlatRange target) {
  try {
    return Reslice(shards, numel, target);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("re-slicing [", target.begin, ", ", target.end, "): ", e.what()));
  }
}

}  // namespace tunefleet
