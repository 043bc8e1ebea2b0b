// submit, list, get, cancel.

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands/commands.h"
#include "cli/output/resources.h"
#include "cli/output/structured.h"
#include "common/job_spec_file.h"

namespace tunefleet::cli {
namespace {

struct SubmitOptions {
  std::string spec_file;
  std::vector<std::string> overrides;
  std::string job_id;
  std::string request_id;
};

int Submit(const GlobalOptions& global, const SubmitOptions& options) {
  absl::StatusOr<v1::JobSpec> spec = LoadJobSpecWithOverrides(options.spec_file, options.overrides);
  if (!spec.ok()) return ReportError(spec.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::CreateJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_job_id(options.job_id);
  request.set_request_id(options.request_id);
  v1::Job job;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->jobs().CreateJob(context.get(), request, &job);
  if (!status.ok()) return ReportError(FromGrpc(status));
  std::cout << job.name() << std::endl;
  return kExitOk;
}

absl::StatusOr<std::vector<v1::Job>> ListAll(Connection& connection, const std::vector<std::string>& states) {
  v1::ListJobsRequest request;
  request.set_page_size(1000);
  for (const auto& text : states) {
    v1::JobState state;
    if (!v1::JobState_Parse("JOB_STATE_" + absl::AsciiStrToUpper(text), &state)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown job state \"", text,
                                                     "\" (queued, running, succeeded, failed, cancelled)"));
    }
    request.add_states(state);
  }
  std::vector<v1::Job> jobs;
  do {
    v1::ListJobsResponse response;
    auto context = connection.UnaryContext();
    const grpc::Status status = connection.jobs().ListJobs(context.get(), request, &response);
    if (!status.ok()) return FromGrpc(status);
    jobs.insert(jobs.end(), response.jobs().begin(), response.jobs().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return jobs;
}

int List(const GlobalOptions& global, const std::string& output, const std::vector<std::string>& states) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  absl::StatusOr<std::vector<v1::Job>> jobs = ListAll(**connection, states);
  if (!jobs.ok()) return ReportError(jobs.status());
  v1::ListJobsResponse all;
  for (auto& job : *jobs) *all.add_jobs() = job;
  switch (*format) {
    case OutputFormat::kTable: std::cout << JobsTable(*jobs, absl::Now()); break;
    case OutputFormat::kJson: std::cout << MessageToJson(all); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(all)); break;
  }
  return kExitOk;
}

int Get(const GlobalOptions& global, const std::string& job_id, const std::string& output) {
  absl::StatusOr<OutputFormat> format = ParseOutputFormat(output);
  if (!format.ok()) return ReportError(format.status());
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  v1::GetJobRequest request;
  request.set_name(JobName(job_id));
  v1::Job job;
  auto context = (*connection)->UnaryContext();
  const grpc::Status status = (*connection)->jobs().GetJob(context.get(), request, &job);
  if (!status.ok()) return ReportError(FromGrpc(status));
  switch (*format) {
    case OutputFormat::kTable: std::cout << JobDetail(job, absl::Now()); break;
    case OutputFormat::kJson: std::cout << MessageToJson(job); break;
    case OutputFormat::kYaml: std::cout << JsonToYaml(MessageToJson(job)); break;
  }
  return kExitOk;
}

int Cancel(const GlobalOptions& global, const std::vector<std::string>& ids) {
  auto connection = Connection::Open(global);
  if (!connection.ok()) return ReportError(connection.status());
  int exit_code = kExitOk;
  for (const auto& id : ids) {
    v1::CancelJobRequest request;
    request.set_name(JobName(id));
    v1::Job job;
    auto context = (*connection)->UnaryContext();
    const grpc::Status status = (*connection)->jobs().CancelJob(context.get(), request, &job);
    if (!status.ok()) {
      exit_code = ReportError(FromGrpc(status));
      continue;
    }
    std::cout << job.name() << " " << StateName(job.state()) << std::endl;
  }
  return exit_code;
}

}  // namespace

void AddJobCommands(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto submit_options = std::make_shared<SubmitOptions>();
  CLI::App* submit = app.add_subcommand("submit", "Submit a job spec file (YAML or JSON); prints the job's name");
  submit->add_option("spec", submit_options->spec_file, "Job spec file")->required();
  submit->add_option("--set", submit_options->overrides, "Override a field: key.path=value (repeatable)");
  submit->add_option("--id", submit_options->job_id, "Job id to use ([a-z0-9-]{1,63}); default: server-chosen");
  submit->add_option("--request-id", submit_options->request_id, "Idempotency key: a retry returns the same job");
  submit->callback([&, submit_options] { exit_code = Submit(global, *submit_options); });

  auto list_output = std::make_shared<std::string>("table");
  auto list_states = std::make_shared<std::vector<std::string>>();
  CLI::App* list = app.add_subcommand("list", "List jobs in submission order");
  list->add_option("-o,--output", *list_output, "table, json or yaml")->capture_default_str();
  list->add_option("--state", *list_states, "Only jobs in this state (repeatable)");
  list->callback([&, list_output, list_states] { exit_code = List(global, *list_output, *list_states); });

  auto get_job = std::make_shared<std::string>();
  auto get_output = std::make_shared<std::string>("table");
  CLI::App* get = app.add_subcommand("get", "Show one job");
  get->add_option("job", *get_job, "Job id or name (jobs/ID)")->required();
  get->add_option("-o,--output", *get_output, "table, json or yaml")->capture_default_str();
  get->callback([&, get_job, get_output] { exit_code = Get(global, *get_job, *get_output); });

  auto cancel_jobs = std::make_shared<std::vector<std::string>>();
  CLI::App* cancel = app.add_subcommand("cancel", "Cancel jobs");
  cancel->add_option("jobs", *cancel_jobs, "Job ids or names")->required();
  cancel->callback([&, cancel_jobs] { exit_code = Cancel(global, *cancel_jobs); });
}

}  // namespace tunefleet::cli
