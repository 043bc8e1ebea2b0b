#include "tests/reference/model/hf_reference.h"

#include <chrono>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "tests/testing/child_process.h"
#include "trainer/safetensors/safetensors_reader.h"
#include "trainer/safetensors/safetensors_torch.h"

namespace tunefleet::testing {

absl::Status RunHfReference(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {TUNEFLEET_PYTHON_EXE,
                                   TUNEFLEET_SOURCE_DIR "/tests/reference/model/hf_reference.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult run = RunCommand(argv, std::chrono::minutes(5));
  if (run.exit_code != 0) {
    return absl::InternalError(absl::StrCat("hf_reference.py ", args.empty() ? "" : args[0], " exited ",
                                            run.exit_code,
                                            " (needs .venv with transformers and peft: run "
                                            "scripts/install_deps.sh):\n",
                                            run.output));
  }
  return absl::OkStatus();
}

const torch::Tensor& HfReference::at(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw std::out_of_range("reference has no tensor " + name);
  return it->second;
}

absl::StatusOr<HfReference> ReadHfReference(const std::string& dir) {
  HfReference ref;
  std::ifstream in(dir + "/reference.json");
  if (!in) return absl::NotFoundError(absl::StrCat("no ", dir, "/reference.json"));
  std::stringstream text;
  text << in.rdbuf();
  ref.json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (ref.json.is_discarded()) return absl::DataLossError(absl::StrCat(dir, "/reference.json is not JSON"));
  const std::string path = dir + "/reference.safetensors";
  if (!std::ifstream(path)) return ref;  // scalars only
  auto file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  for (const TensorView& view : (*file)->tensors()) {
    auto tensor = ToTorch(view);
    if (!tensor.ok()) return tensor.status();
    ref.tensors[view.name] = *tensor;
  }
  return ref;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.numel() == 0) return 0;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

LogitsComparison CompareLogits(CausalLM& model, const HfReference& reference) {
  torch::NoGradGuard no_grad;
  model.eval();
  const torch::Tensor logits =
      model.Forward(reference.at("input_ids"), reference.at("position_ids"), reference.at("segment_ids"));
  const torch::Tensor valid = reference.at("valid").to(torch::kBool);
  const torch::Tensor expected = reference.at("logits");
  LogitsComparison c;
  c.max_abs_diff = MaxAbsDiff(logits.index({valid}), expected.index({valid}));
  c.max_abs_logit = expected.index({valid}).abs().max().item<double>();
  return c;
}

absl::StatusOr<LogitsComparison> CompareWithTransformers(CausalLM& model, const std::string& hf_dir,
                                                         const std::string& work_dir,
                                                         const std::string& gguf_file) {
  std::vector<std::string> args = {"logits", hf_dir, work_dir};
  if (!gguf_file.empty()) {
    args.push_back("--gguf-file");
    args.push_back(gguf_file);
  }
  if (absl::Status s = RunHfReference(args); !s.ok()) return s;
  absl::StatusOr<HfReference> ref = ReadHfReference(work_dir);
  if (!ref.ok()) return ref.status();
  try {
    return CompareLogits(model, *ref);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("comparing logits: ", e.what()));
  }
}

}  // namespace tunefleet::testing
