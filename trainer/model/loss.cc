#include "trainer/model/loss.h"

namespace tunefleet {
namespace {

void CheckLogitsAndLabels(const torch::Tensor& logits, const torch::Tensor& labels) {
  TORCH_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
                  logits.size(1) == labels.size(1),
              "logits must be [B, T, V] and labels [B, T], got ", logits.sizes(), " and ", labels.sizes());
}

}  // namespace

LossOutput ComputeLoss(const torch::Tensor& logits, const torch::Tensor& labels) {
  CheckLogitsAndLabels(logits, labels);
  namespace F = torch::nn::functional;
  const int64_t vocab = logits.size(2);
  torch::Tensor flat_labels = labels.reshape({-1}).to(logits.device());
  LossOutput out;
  out.sum = F::cross_entropy(logits.reshape({-1, vocab}).to(torch::kFloat32), flat_labels,
                             F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex).reduction(torch::kSum));
  out.count = flat_labels.ne(kIgnoreIndex).sum();
  // All-ignored micro-batches happen (a prompt-only packed row): 0, not NaN.
  out.mean = out.sum / out.count.clamp_min(1).to(torch::kFloat32);
  return out;
}

torch::Tensor RowLossSums(const torch::Tensor& logits, const torch::Tensor& labels) {
  CheckLogitsAndLabels(logits, labels);
  namespace F = torch::nn::functional;
  const int64_t vocab = logits.size(2);
  torch::Tensor flat_labels = labels.reshape({-1}).to(logits.device());
  // Ignored positions contribute 0 with reduction none.
  torch::Tensor per_token =
      F::cross_entropy(logits.reshape({-1, vocab}).to(torch::kFloat32), flat_labels,
                       F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex).reduction(torch::kNone));
  return per_token.reshape({labels.size(0), labels.size(1)}).sum(1);
}

}  // namespace tunefleet
