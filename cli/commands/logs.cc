// logs: one rank's log of a job; -f keeps streaming new lines.

#include <iostream>

#include "cli/commands/commands.h"

namespace tunefleet::cli {
namespace {

struct LogsOptions {
  std::string job;
  int rank = 0;
  bool follow = false;
  int tail = 0;
};

int Logs(const GlobalOptions& global, const LogsOptions& options) {
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::ReadJobLogsRequest request;
  request.set_name(JobName(options.job));
  request.set_rank(options.rank);
  request.set_follow(options.follow);
  request.set_tail_lines(options.tail);
  // No deadline when following: the stream lives as long as the user wants
  // (Ctrl-C); a plain read gets the unary deadline.
  std::unique_ptr<grpc::ClientContext> context =
      options.follow ? std::make_unique<grpc::ClientContext>() : (*connection)->UnaryContext();
  auto reader = (*connection)->jobs().ReadJobLogs(context.get(), request);
  v1::LogEntry entry;
  while (reader->Read(&entry)) {
    std::cout << entry.line();
    if (entry.line().empty() || entry.line().back() != '\n') std::cout << '\n';
    std::cout << std::flush;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(FromGrpc(status));
  return kExitOk;
}

}  // namespace

void AddLogsCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<LogsOptions>();
  CLI::App* logs = app.add_subcommand("logs", "Print a rank's log of a job's current attempt");
  logs->add_option("job", options->job, "Job id or name (jobs/ID)")->required();
  logs->add_option("--rank", options->rank, "Rank whose log to read")->capture_default_str();
  logs->add_flag("-f,--follow", options->follow, "Keep streaming new lines until the job ends (or Ctrl-C)");
  logs->add_option("--tail", options->tail, "Only the last N lines (0: all)")->capture_default_str();
  logs->callback([&, options] { exit_code = Logs(global, *options); });
}

}  // namespace tunefleet::cli
