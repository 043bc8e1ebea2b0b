// plot: train and eval loss over steps, to an SVG or PNG file.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/plot/chart.h"

namespace tunefleet::cli {
namespace {

struct PlotOptions {
  std::string job;
  std::string metrics_file;
  std::string out = "loss.svg";
  double timeout_s = 10;
};

// A job's samples from WatchJobMetrics: the history, then live ones until the
// job ends (the server closes the stream) or `timeout_s` passes (a running job).
absl::StatusOr<LossSeries> FromServer(const GlobalOptions& global, const PlotOptions& options) {
  auto connection = Connection::Open(global);
  if (!connection.ok()) return connection.status();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000)));
  v1::WatchJobMetricsRequest request;
  request.set_name(JobName(options.job));
  auto reader = (*connection)->jobs().WatchJobMetrics(&context, request);
  LossSeries series;
  v1::MetricSample sample;
  while (reader->Read(&sample)) series.Add(sample);
  const grpc::Status status = reader->Finish();
  if (!status.ok() && !(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !series.empty())) {
    return FromGrpc(status);
  }
  return series;
}

int Plot(const GlobalOptions& global, const PlotOptions& options) {
  if (options.job.empty() == options.metrics_file.empty()) {
    return ReportError(absl::InvalidArgumentError("plot: give a job or --metrics-file (one of them)"));
  }
  absl::StatusOr<LossSeries> series =
      options.metrics_file.empty() ? FromServer(global, options) : ReadMetricsFile(options.metrics_file);
  if (!series.ok()) return ReportError(series.status());
  const std::string title =
      options.job.empty() ? "loss: " + options.metrics_file : "loss: " + JobName(options.job);
  const absl::Status status = WriteChart(*series, title, options.out);
  if (!status.ok()) return ReportError(status);
  std::cout << options.out << " (" << series->train.size() << " train points, " << series->eval.size()
            << " eval points)" << std::endl;
  return kExitOk;
}

}  // namespace

void AddPlotCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto options = std::make_shared<PlotOptions>();
  CLI::App* plot = app.add_subcommand("plot", "Plot train and eval loss over steps to an SVG or PNG file");
  plot->add_option("job", options->job, "Job id or name (its metrics come from the coordinator)");
  plot->add_option("--metrics-file", options->metrics_file, "Read a metrics JSONL file instead of asking the coordinator");
  plot->add_option("--out", options->out, "Output file: .svg or .png")->capture_default_str();
  plot->add_option("--timeout", options->timeout_s, "Seconds to collect samples of a running job")
      ->capture_default_str();
  plot->callback([&, options] { exit_code = Plot(global, *options); });
}

}  // namespace tunefleet::cli
