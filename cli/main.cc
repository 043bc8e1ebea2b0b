// tunefleet: submit, watch and manage fine-tuning jobs.

#include <iostream>

#include <CLI/CLI.hpp>

#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet: submit, watch and manage fine-tuning jobs on a tunefleet cluster"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  app.require_subcommand(1);
  std::string coordinator = "127.0.0.1:50051";
  app.add_option("--coordinator", coordinator, "Coordinator address")->envname("TUNEFLEET_COORDINATOR");
  app.add_subcommand("submit", "Submit a job spec file");
  CLI11_PARSE(app, argc, argv);
  std::cerr << "tunefleet: this command is not built yet (issue 6)\n";
  return 2;
}
