#include "trainer/tools/import_command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "trainer/hf_io/base_model.h"
#include "trainer/hf_io/hf_model_export.h"

namespace tunefleet {

void AddImportOptions(CLI::App& command, ImportOptions& options) {
  command.add_option("--model", options.model, "A GGUF file (or a Hugging Face model directory)")->required();
  command.add_option("--out", options.out, "The Hugging Face model directory to write")->required();
  command.add_option("--dtype", options.dtype, "Weights' dtype in the output")
      ->check(CLI::IsMember({"float32", "bfloat16", "float16"}));
}

absl::Status RunImport(const ImportOptions& options) {
  const torch::ScalarType dtype = options.dtype == "bfloat16"  ? torch::kBFloat16
                                  : options.dtype == "float16" ? torch::kFloat16
                                                               : torch::kFloat32;
  auto model = LoadBaseModel(options.model, dtype);
  if (!model.ok()) return model.status();
  if (auto s = ExportHfModel(**model, options.model, options.out); !s.ok()) return s;
  std::printf("imported %s -> %s (%s)\n", options.model.c_str(), options.out.c_str(), options.dtype.c_str());
  return absl::OkStatus();
}

}  // namespace tunefleet
