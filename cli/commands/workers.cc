// workers, cordon, uncordon, drain.

#include <iostream>

#include "absl/time/clock.h"
#include "cli/commands/commands.h"
#include "cli/output/resources.h"
#include "cli/output/structured.h"

namespace tunefleet::cli {
namespace {

int Workers(const GlobalOptions& global, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::ListWorkersRequest request;
  request.set_page_size(1000);
  v1::ListWorkersResponse all;
  do {
    v1::ListWorkersResponse response;
    auto context = (*connection)->UnaryContext();
    const grpc::Status status = (*connection)->admin().ListWorkers(context.get(), request, &response);
    if (!status.ok()) return ReportError(FromGrpc(status));
    for (auto& w : *response.mutable_workers()) *all.add_workers() = std::move(w);
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  switch (*format) {
    case OutputFormat::kTable:
      std::cout << WorkersTable({all.workers().begin(), all.workers().end()}, absl::Now());
      break;
    case OutputFormat::kJson: std::cout << MessageToJson(all); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(all)); break;
  }
  return kExitOk;
}

enum class Action { kCordon, kUncordon, kDrain };

int Change(const GlobalOptions& global, Action action, const std::string& id, double deadline_s) {
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  auto context = (*connection)->UnaryContext();
  v1::Worker worker;
  grpc::Status status;
  switch (action) {
    case Action::kCordon: {
      v1::CordonWorkerRequest request;
      request.set_name(WorkerName(id));
      status = (*connection)->admin().CordonWorker(context.get(), request, &worker);
      break;
    }
    case Action::kUncordon: {
      v1::UncordonWorkerRequest request;
      request.set_name(WorkerName(id));
      status = (*connection)->admin().UncordonWorker(context.get(), request, &worker);
      break;
    }
    case Action::kDrain: {
      v1::DrainWorkerRequest request;
      request.set_name(WorkerName(id));
      if (deadline_s >= 0) {  // unset: the coordinator's --drain-deadline
        request.mutable_deadline()->set_seconds(static_cast<int64_t>(deadline_s));
        request.mutable_deadline()->set_nanos(static_cast<int32_t>((deadline_s - static_cast<int64_t>(deadline_s)) * 1e9));
      }
      status = (*connection)->admin().DrainWorker(context.get(), request, &worker);
      break;
    }
  }
  if (!status.ok()) return ReportError(FromGrpc(status));
  std::cout << worker.name() << " " << StateName(worker.state()) << std::endl;
  return kExitOk;
}

}  // namespace

void AddWorkerCommands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto output = std::make_shared<std::string>("table");
  CLI::App* workers = app.add_subcommand("workers", "List workers");
  workers->add_option("-o,--output", *output, "table, json or yaml")->capture_default_str();
  workers->callback([&, output] { exit_code = Workers(global, *output); });

  struct Verb {
    const char* name;
    const char* help;
    Action action;
  };
  for (const Verb& verb : {Verb{"cordon", "Stop placing new ranks on a worker (running ranks stay)", Action::kCordon},
                           Verb{"uncordon", "Let a cordoned, draining or drained worker take placements again",
                                Action::kUncordon},
                           Verb{"drain", "Cordon a worker, stop its jobs' gangs and requeue them", Action::kDrain}}) {
    auto id = std::make_shared<std::string>();
    auto deadline = std::make_shared<double>(-1);
    CLI::App* sub = app.add_subcommand(verb.name, verb.help);
    sub->add_option("worker", *id, "Worker id or name (workers/ID)")->required();
    if (verb.action == Action::kDrain) {
      sub->add_option("--deadline", *deadline, "Seconds to wait for the drain checkpoint (default: the coordinator's)");
    }
    const Action action = verb.action;
    sub->callback([&, id, deadline, action] { exit_code = Change(global, action, *id, *deadline); });
  }
}

}  // namespace tunefleet::cli
