#pragma once
// A linear projection that can carry a LoRA adapter, named as PEFT names it:
// the base is `weight` / `bias` (Hugging Face's nn.Linear names), the adapter
// `lora_A.weight` [rank, in] and `lora_B.weight` [out, rank]. Every
// projection of the model is one of these, so adding LoRA adds submodules
// instead of replacing modules, and the names stay those of the checkpoint.

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "trainer/model/nf4.h"

namespace tunefleet {

class LoraLinear : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised: weights come from a checkpoint or
  // from InitRandomWeights.
  LoraLinear(int64_t in_features, int64_t out_features, bool bias, const torch::TensorOptions& options);

  // y = x W^T + b  (+ B(A(dropout(x))) * alpha / rank when an adapter is on).
  // With an NF4 base, W is dequantised to x's dtype inside the matmul.
  torch::Tensor forward(const torch::Tensor& x);

  // Adds an adapter: A kaiming-uniform (a = sqrt(5), as PEFT: U(-1/sqrt(in),
  // 1/sqrt(in))) drawn from `generator` on the CPU, B zero, so the output is
  // unchanged until B trains. Same dtype and device as the base weight.
  void AddAdapter(int64_t rank, double alpha, double dropout, at::Generator& generator);
  // Folds B A * scaling into the base weight (in fp32) and removes the adapter.
  void MergeAdapter();
  bool has_adapter() const { return lora_A != nullptr; }
  double scaling() const { return scaling_; }

  // QLoRA: replaces the (frozen) base weight with its NF4 quantisation on
  // `device`. `weight` is unregistered and released; the packed weight is a
  // plain member, not a buffer, so Module::to never casts its bytes (move
  // the model to its device before or pass the device here).
  void QuantizeBaseToNf4(const torch::Device& device);
  // Registers `weight` again as the dequantised base, in `dtype` (for a
  // merged export). No-op without an NF4 base.
  void DequantizeBase(torch::Dtype dtype);
  const std::optional<Nf4Tensor>& nf4_weight() const { return nf4_weight_; }

  int64_t in_features() const { return nf4_weight_ ? nf4_weight_->shape[1] : weight.size(1); }
  int64_t out_features() const { return nf4_weight_ ? nf4_weight_->shape[0] : weight.size(0); }

  torch::Tensor weight;                           // [out, in]; undefined with an NF4 base
  torch::Tensor bias;                             // [out] or undefined
  std::shared_ptr<torch::nn::LinearImpl> lora_A;  // null without an adapter
  std::shared_ptr<torch::nn::LinearImpl> lora_B;

 private:
  std::shared_ptr<torch::nn::DropoutImpl> lora_dropout_;  // null when dropout is 0
  double scaling_ = 0.0;
  std::optional<Nf4Tensor> nf4_weight_;  // the base, when it is held as NF4
};

}  // namespace tunefleet
