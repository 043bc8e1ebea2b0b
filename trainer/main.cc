// tunefleet-trainer: one rank of one fine-tuning job.

#include <iostream>

#include <CLI/CLI.hpp>

#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-trainer: one rank of a tunefleet fine-tuning job"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
