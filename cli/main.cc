// tunefleet: submit, watch and manage fine-tuning jobs; `up` runs a local cluster.

#include <CLI/CLI.hpp>

#include "cli/commands/commands.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace tunefleet::cli;
  CLI::App app{"tunefleet: submit, watch and manage fine-tuning jobs on a tunefleet cluster"};
  app.set_version_flag("--version", std::string("tunefleet ") + TUNEFLEET_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // global flags also after the verb: `tunefleet get x --coordinator h:p`
  GlobalOptions global;
  app.add_option("--coordinator", global.coordinator, "Coordinator address host:port")
      ->envname("TUNEFLEET_COORDINATOR")
      ->capture_default_str();
  app.add_option("--connect-timeout", global.connect_timeout_s, "Seconds to reach the coordinator")
      ->capture_default_str();
  app.add_option("--timeout", global.rpc_timeout_s, "Deadline of each request, seconds")->capture_default_str();
  int exit_code = 0;
  AddJobCommands(app, global, exit_code);
  AddWatchCommand(app, global, exit_code);
  AddLogsCommand(app, global, exit_code);
  AddWorkerCommands(app, global, exit_code);
  AddPlotCommand(app, global, exit_code);
  AddUpCommand(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
