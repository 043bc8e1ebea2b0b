#include "trainer/eval/completion_loss.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace tunefleet {

absl::StatusOr<std::vector<double>> CompletionLosses(CausalLM& model, const Tokenizer& tokenizer,
                                                     const GenerationFormat& format,
                                                     const std::vector<PromptAndAnswer>& examples) {
  std::vector<double> losses;
  losses.reserve(examples.size());
  std::vector<int32_t> end_ids;
  if (format.chat_template.has_value()) {
    auto stops = ReplyStopIds(tokenizer, *format.chat_template);
    if (!stops.ok()) return stops.status();
    end_ids.push_back(stops->front());  // the template's own end of turn
  }
  try {
    torch::NoGradGuard no_grad;
    model.eval();
    const torch::Device device = model.lm_head_weight().device();
    for (size_t i = 0; i < examples.size(); ++i) {
      std::vector<int32_t> ids;
      if (format.chat_template.has_value()) {
        auto prompt = EncodeChatPrompt(tokenizer, *format.chat_template, examples[i].prompt, format.system_message);
        if (!prompt.ok()) return prompt.status();
        ids = *std::move(prompt);
      } else {
        ids = tokenizer.Encode(examples[i].prompt, false);
      }
      const size_t prompt_length = ids.size();
      const std::vector<int32_t> answer = tokenizer.Encode(examples[i].answer, false);
      ids.insert(ids.end(), answer.begin(), answer.end());
      ids.insert(ids.end(), end_ids.begin(), end_ids.end());
      if (prompt_length == 0 || ids.size() == prompt_length) {
        return absl::InvalidArgumentError(absl::StrCat("example ", i, ": an empty prompt or answer has no loss"));
      }
      const int64_t length = static_cast<int64_t>(ids.size());
      const torch::Tensor input =
          torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).to(device).unsqueeze(0);
      const torch::Tensor positions = torch::arange(length, torch::TensorOptions(torch::kLong).device(device)).unsqueeze(0);
      const torch::Tensor logits = model.Forward(input, positions)[0];  // [T, vocab], fp32
      const int64_t first = static_cast<int64_t>(prompt_length) - 1;  // predicts the answer's first token
      const torch::Tensor predicted = logits.slice(0, first, length - 1);
      const torch::Tensor targets = input[0].slice(0, first + 1, length);
      losses.push_back(torch::nn::functional::cross_entropy(predicted, targets).item<double>());
    }
    model.train();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("completion loss failed: ", e.what()));
  }
  return losses;
}

}  // namespace tunefleet
