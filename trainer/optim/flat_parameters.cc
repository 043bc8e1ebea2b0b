#include "trainer/optim/flat_parameters.h"

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<FlatParameters> FlatParameters::Create(
    const std::vector<std::pair<std::string, torch::Tensor>>& params,
    const std::function<bool(const std::string&)>& no_decay, int64_t pad_to_multiple_of) {
  if (params.empty()) return absl::InvalidArgumentError("no trainable parameters to flatten");
  FlatParameters flat;
  // Decay group first, then no-decay; stable within each group.
  std::vector<std::size_t> order;
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (no_decay(params[i].first) == (pass == 1)) order.push_back(i);
    }
  }
  const torch::Tensor& first = params.front().second;
  int64_t offset = 0;
  for (std::size_t i : order) {
    const auto& [name, p] = params[i];
    if (p.scalar_type() != first.scalar_type() || p.device() != first.device()) {
      return absl::InvalidArgumentError(absl::StrCat("parameter ", name, " differs in dtype or device from ",
                                                     params.front().first, "; cannot flatten"));
    }
    FlatParameterSlot slot;
    slot.name = name;
    slot.offset = offset;
    slot.numel = p.numel();
    slot.shape = p.sizes().vec();
    slot.decay = !no_decay(name);
    if (slot.decay) flat.decay_numel_ = offset + slot.numel;
    offset += slot.numel;
    flat.slots_.push_back(std::move(slot));
  }
  flat.numel_ = offset;
  const int64_t multiple = std::max<int64_t>(1, pad_to_multiple_of);
  const int64_t padded = (offset + multiple - 1) / multiple * multiple;
  try {
    torch::NoGradGuard no_grad;
    auto options = first.options().requires_grad(false);
    flat.values_ = torch::zeros({padded}, options);
    flat.grads_ = torch::zeros({padded}, options);
    for (std::size_t k = 0; k < order.size(); ++k) {
      torch::Tensor p = params[order[k]].second;
      const FlatParameterSlot& slot = flat.slots_[k];
      torch::Tensor view = flat.values_.narrow(0, slot.offset, slot.numel).view(slot.shape);
      view.copy_(p.detach());
      p.set_data(view);  // the module's parameter now lives in the flat buffer
      p.mutable_grad() = flat.grads_.narrow(0, slot.offset, slot.numel).view(slot.shape);
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("flattening parameters: ", e.what()));
  }
  return flat;
}

}  // namespace tunefleet
