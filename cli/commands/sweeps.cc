// sweep submit, get, list, cancel.

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "cli/commands/commands.h"
#include "cli/output/structured.h"
#include "cli/output/sweep_table.h"
#include "common/job_spec_file.h"
#include "common/sweep_grid.h"

namespace tunefleet::cli {
namespace {

struct SweepSubmitOptions {
  std::string spec_file;
  std::vector<std::string> grid;
  std::vector<std::string> overrides;
  int32_t max_concurrent = 0;
  std::string objective = "eval_loss";
  std::string sweep_id;
  std::string request_id;
};

std::string SweepName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "sweeps/") ? id_or_name : "sweeps/" + id_or_name;
}

// The request as the coordinator will expand it: the spec exactly as
// `tunefleet submit --set` reads it, each axis's relative paths resolved
// against the spec file's folder, and the grid expanded here first so a bad
// axis is named before anything is sent.
absl::StatusOr<v1::CreateSweepRequest> BuildRequest(const SweepSubmitOptions& options) {
  auto spec = LoadJobSpecWithOverrides(options.spec_file, options.overrides);
  if (!spec.ok()) return spec.status();
  std::error_code error;
  const std::filesystem::path file = std::filesystem::absolute(options.spec_file, error);
  if (error) return absl::InvalidArgumentError(absl::StrCat("job spec file ", options.spec_file, ": ", error.message()));
  v1::CreateSweepRequest request;
  *request.mutable_base() = *std::move(spec);
  for (const std::string& text : options.grid) {
    auto axis = ParseSweepAxis(text);
    if (!axis.ok()) return axis.status();
    if (auto s = ResolveSweepAxisPaths(*axis, file.parent_path().string()); !s.ok()) return s;
    *request.add_axes() = *std::move(axis);
  }
  if (options.objective == "eval_loss") {
    request.set_objective(v1::SWEEP_OBJECTIVE_MIN_EVAL_LOSS);
  } else if (options.objective == "train_loss") {
    request.set_objective(v1::SWEEP_OBJECTIVE_MIN_TRAIN_LOSS);
  } else if (options.objective == "eval_score") {
    request.set_objective(v1::SWEEP_OBJECTIVE_MAX_EVAL_SCORE);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--objective: \"", options.objective, "\" is not eval_loss, train_loss or eval_score"));
  }
  request.set_max_concurrent(options.max_concurrent);
  request.set_sweep_id(options.sweep_id);
  request.set_request_id(options.request_id);
  if (auto points = ExpandSweepGrid(request.base(), request.axes()); !points.ok()) return points.status();
  return request;
}

int Submit(const GlobalOptions& global, const SweepSubmitOptions& options) {
  auto request = BuildRequest(options);
  if (!request.ok()) return ReportError(request.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::Sweep sweep;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->sweeps().CreateSweep(context.get(), *request, &sweep);
  if (!status.ok()) return ReportError(FromGrpc(status));
  std::cout << sweep.name() << " (" << sweep.points_size() << " jobs)" << std::endl;
  return kExitOk;
}

int Get(const GlobalOptions& global, const std::string& id, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::GetSweepRequest request;
  request.set_name(SweepName(id));
  v1::Sweep sweep;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->sweeps().GetSweep(context.get(), request, &sweep);
  if (!status.ok()) return ReportError(FromGrpc(status));
  switch (*format) {
    case OutputFormat::kTable: std::cout << SweepDetail(sweep, absl::Now()); break;
    case OutputFormat::kJson: std::cout << MessageToJson(sweep); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(sweep)); break;
  }
  return kExitOk;
}

int List(const GlobalOptions& global, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::ListSweepsRequest request;
  request.set_page_size(100);
  v1::ListSweepsResponse all;
  do {
    v1::ListSweepsResponse page;
    auto context = (*connection)->UnaryContext();
    const grpc::Status status = (*connection)->sweeps().ListSweeps(context.get(), request, &page);
    if (!status.ok()) return ReportError(FromGrpc(status));
    for (auto& sweep : *page.mutable_sweeps()) *all.add_sweeps() = std::move(sweep);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  switch (*format) {
    case OutputFormat::kTable:
      std::cout << SweepsTable({all.sweeps().begin(), all.sweeps().end()}, absl::Now());
      break;
    case OutputFormat::kJson: std::cout << MessageToJson(all); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(all)); break;
  }
  return kExitOk;
}

int Cancel(const GlobalOptions& global, const std::string& id) {
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::CancelSweepRequest request;
  request.set_name(SweepName(id));
  v1::Sweep sweep;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->sweeps().CancelSweep(context.get(), request, &sweep);
  if (!status.ok()) return ReportError(FromGrpc(status));
  std::cout << sweep.name() << " " << SweepStateName(sweep.state()) << std::endl;
  return kExitOk;
}

}  // namespace

void AddSweepCommands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  CLI::App* sweep = app.add_subcommand("sweep", "Hyperparameter sweeps: one spec, a grid of values, a job per point");
  sweep->require_subcommand(1);

  auto submit_options = std::make_shared<SweepSubmitOptions>();
  CLI::App* submit = sweep->add_subcommand(
      "submit", "Submit a sweep: SPEC.yaml --grid path=v1,v2 [--grid ...]; prints the sweep's name");
  submit->add_option("spec", submit_options->spec_file, "Job spec file (YAML or JSON), the base of every point")
      ->required();
  submit->add_option("--grid", submit_options->grid,
                     "An axis: key.path=value,value,... (repeatable; each value as --set takes it; the grid is "
                     "the product of the axes, at most 8 axes and 256 points)")
      ->required();
  submit->add_option("--set", submit_options->overrides, "Override a field of the base: key.path=value (repeatable)");
  submit->add_option("--max-concurrent", submit_options->max_concurrent,
                     "At most this many points running at once; the others wait (default 0: no limit)");
  submit->add_option("--objective", submit_options->objective, "The best point: eval_loss or train_loss (lowest), or eval_score (highest; needs evaluation.after_training)")
      ->capture_default_str();
  submit->add_option("--id", submit_options->sweep_id, "Sweep id ([a-z0-9-]{1,48}); default: server-chosen");
  submit->add_option("--request-id", submit_options->request_id, "Idempotency key: a retry returns the same sweep");
  submit->callback([&, submit_options] { exit_code = Submit(global, *submit_options); });

  auto get_id = std::make_shared<std::string>();
  auto get_output = std::make_shared<std::string>("table");
  CLI::App* get = sweep->add_subcommand("get", "Show a sweep: each point's state and losses, and the best point");
  get->add_option("sweep", *get_id, "Sweep id or name (sweeps/ID)")->required();
  get->add_option("-o,--output", *get_output, "table, json or yaml")->capture_default_str();
  get->callback([&, get_id, get_output] { exit_code = Get(global, *get_id, *get_output); });

  auto list_output = std::make_shared<std::string>("table");
  CLI::App* list = sweep->add_subcommand("list", "List sweeps, newest first");
  list->add_option("-o,--output", *list_output, "table, json or yaml")->capture_default_str();
  list->callback([&, list_output] { exit_code = List(global, *list_output); });

  auto cancel_id = std::make_shared<std::string>();
  CLI::App* cancel = sweep->add_subcommand("cancel", "Cancel a sweep: every member not yet ended");
  cancel->add_option("sweep", *cancel_id, "Sweep id or name")->required();
  cancel->callback([&, cancel_id] { exit_code = Cancel(global, *cancel_id); });
}

}  // namespace tunefleet::cli
