// tunefleet-worker: runs the trainer ranks assigned to this node.

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-worker: runs tunefleet trainer ranks on this node"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  std::string coordinator = "127.0.0.1:50051";
  int cpu_slots = 2;
  app.add_option("--coordinator", coordinator, "Coordinator gRPC address")->capture_default_str();
  app.add_option("--cpu-slots", cpu_slots, "Ranks this worker runs when it has no GPU")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::cerr << "tunefleet-worker: the worker daemon is not built yet (issue 8)\n";
  return 2;
}
