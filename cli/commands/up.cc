// up: the one-command local cluster.

#include "cli/commands/cluster_config.h"
#include "cli/commands/commands.h"
#include "cli/local_cluster/local_cluster.h"

namespace tunefleet::cli {

void AddUpCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto o = std::make_shared<LocalClusterOptions>();
  CLI::App* up = app.add_subcommand("up", "Run a coordinator and N workers on this machine until Ctrl-C");
  up->add_option("--workers", o->workers, "Number of workers")->capture_default_str()->check(CLI::Range(1, 64));
  up->add_option("--cpu-slots", o->cpu_slots, "CPU slots (ranks) per worker")->capture_default_str()->check(
      CLI::Range(1, 256));
  up->add_option("--state-dir", o->state_dir, "Folder for the database, checkpoints, worker dirs and logs")
      ->capture_default_str();
  up->add_option("--listen", o->listen, "Coordinator address (port 0: any; see <state-dir>/coordinator.address)")
      ->capture_default_str();
  up->add_option("--coordinator-binary", o->coordinator_binary, "tunefleet-coordinator to run (default: beside tunefleet)");
  up->add_option("--worker-binary", o->worker_binary, "tunefleet-worker to run (default: beside tunefleet)");
  up->add_option("--trainer", o->trainer_binary, "Trainer the workers run (default: tunefleet-trainer beside tunefleet)");
  up->add_option("--startup-timeout", o->startup_timeout_s, "Seconds for the daemons to come up")->capture_default_str();
  up->add_flag("--insecure", o->insecure, "No TLS, no tokens (loopback --listen only): anyone on this machine may call");
  up->add_flag("!--no-write-config", o->write_config, "Do not write the cluster's context to the config file");
  up->add_option("--allowed-root", o->allowed_roots,
                 "A folder jobs' paths may lie beneath, besides the state dir (repeatable; default: the current "
                 "directory). The state dir's pki/, workers/, logs/ and database stay closed to jobs");
  up->add_flag("--allow-any-path", o->allow_any_path,
               "Do not confine jobs' paths to the roots (only /, /etc, /proc, /sys, /dev stay refused)");
  up->callback([&, o] {
    if (o->write_config) o->config_path = global.config.empty() ? DefaultConfigPath() : global.config;
    exit_code = RunLocalCluster(*o);
  });
}

}  // namespace tunefleet::cli
