// tunefleet-coordinator: takes fine-tuning jobs over gRPC and schedules them
// onto worker daemons.

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/version.h"

int main(int argc, char** argv) {
  CLI::App app{"tunefleet-coordinator: schedules fine-tuning jobs onto tunefleet workers"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  std::string listen = "127.0.0.1:50051";
  std::string database = "tunefleet.db";
  app.add_option("--listen", listen, "gRPC listen address (port 0 picks a free port)")->capture_default_str();
  app.add_option("--database", database, "SQLite database file for durable state")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::cerr << "tunefleet-coordinator: the control plane is not built yet (issue 8)\n";
  return 2;
}
