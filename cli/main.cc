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
  app.add_option("--coordinator", global.coordinator,
                 "Coordinator address host:port (default: the config's, else 127.0.0.1:50051)")
      ->envname("TUNEFLEET_COORDINATOR");
  app.add_option("--config", global.config, "Cluster contexts file (default: ~/.config/tunefleet/config)")
      ->envname("TUNEFLEET_CONFIG");
  app.add_option("--state-dir", global.state_dir,
                 "A `tunefleet up` state folder: use its CA and admin token (and address)");
  app.add_option("--token-file", global.token_file, "File holding this user's bearer token")
      ->envname("TUNEFLEET_TOKEN_FILE");
  app.add_flag("--insecure", global.insecure, "Plaintext, no token: a loopback coordinator run --insecure");
  app.add_option("--connect-timeout", global.connect_timeout_s, "Seconds to reach the coordinator")
      ->capture_default_str();
  app.add_option("--timeout", global.rpc_timeout_s, "Deadline of each request, seconds")->capture_default_str();
  int exit_code = 0;
  AddJobCommands(app, global, exit_code);
  AddSweepCommands(app, global, exit_code);
  AddWatchCommand(app, global, exit_code);
  AddLogsCommand(app, global, exit_code);
  AddWorkerCommands(app, global, exit_code);
  AddPlotCommand(app, global, exit_code);
  AddAuditCommand(app, global, exit_code);
  AddPkiCommand(app, exit_code);
  AddLineageCommand(app, exit_code);
  AddEvalCommand(app, exit_code);
  AddUpCommand(app, global, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
