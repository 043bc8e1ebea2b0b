#pragma once
// A linear projection that can carry a LoRA adapter, named as PEFT names it:
// the base is `weight` / `bias` (Hugging Face's nn.Linear names), the adapter
// `lora_A.weight` [rank, in] and `lora_B.weight` [out, rank]. Every
// projection of the model is one of these, so adding LoRA adds submodules
// instead of replacing modules, and the names stay those of the checkpoint.

#include <torch/torch.h>

#include <cstdint>
#include <memory>

namespace tunefleet {

class LoraLinear : public torch::nn::Module {
 public:
  // Parameters are allocated uninitialised: weights come from a checkpoint or
  // from InitRandomWeights.
  LoraLinear(int64_t in_features, int64_t out_features, bool bias, const torch::TensorOptions& options);

  // y = x W^T + b  (+ B(A(dropout(x))) * alpha / rank when an adapter is on).
  torch::Tensor forward(const torch::Tensor& x);

  // Adds an adapter: A kaiming-uniform (a = sqrt(5), as PEFT: U(-1/sqrt(in),
  // 1/sqrt(in))) drawn from `generator` on the CPU, B zero, so the output is
  // unchanged until B trains. Same dtype and device as the base weight.
  void AddAdapter(int64_t rank, double alpha, double dropout, at::Generator& generator);
  // Folds B A * scaling into the base weight (in fp32) and removes the adapter.
  void MergeAdapter();
  bool has_adapter() const { return lora_A != nullptr; }
  double scaling() const { return scaling_; }

  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }

  torch::Tensor weight;                           // [out, in]
  torch::Tensor bias;                             // [out] or undefined
  std::shared_ptr<torch::nn::LinearImpl> lora_A;  // null without an adapter
  std::shared_ptr<torch::nn::LinearImpl> lora_B;

 private:
  std::shared_ptr<torch::nn::DropoutImpl> lora_dropout_;  // null when dropout is 0
  double scaling_ = 0.0;
};

}  // namespace tunefleet
