// tunefleet-demo-data: writes the demo task's data sets (see demo_data.h).

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "demo/demo_data.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-demo-data: generate the demo task's pretraining corpus and fine-tuning sets"};
  std::string out;
  uint64_t seed = 1234;
  app.add_option("--out", out, "Output directory")->required();
  app.add_option("--seed", seed, "Generator seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::cerr << "tunefleet-demo-data: cannot create " << out << ": " << ec.message() << "\n";
    return 1;
  }
  const auto data = tunefleet::demo::GenerateDemoData(seed);
  std::string error;
  if (!tunefleet::demo::WriteDemoData(data, out, &error)) {
    std::cerr << "tunefleet-demo-data: " << error << "\n";
    return 1;
  }
  std::cout << "wrote " << data.pretrain_texts.size() << " pretraining documents, " << data.train.size() << " train, "
            << data.validation.size() << " validation and " << data.test.size() << " test questions to " << out
            << "\n";
  return 0;
}
