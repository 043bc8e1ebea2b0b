#pragma once
// Each file under cli/commands/ adds its verbs to the app. A verb's callback
// stores its exit status in `exit_code`; main returns it.

#include <CLI/CLI.hpp>

#include "cli/commands/context.h"

namespace tunefleet::cli {

void AddJobCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);     // submit list get cancel
void AddSweepCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);   // sweep submit|get|list|cancel
void AddWatchCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);    // watch
void AddLogsCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);     // logs
void AddWorkerCommands(CLI::App& app, const GlobalOptions& global, int& exit_code);  // workers cordon uncordon drain
void AddPlotCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);     // plot
void AddAuditCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);    // audit
void AddPkiCommand(CLI::App& app, int& exit_code);                                   // pki init|worker|user
void AddLineageCommand(CLI::App& app, int& exit_code);                               // lineage
void AddEvalCommand(CLI::App& app, int& exit_code);                                  // eval
void AddUpCommand(CLI::App& app, const GlobalOptions& global, int& exit_code);       // up

}  // namespace tunefleet::cli
