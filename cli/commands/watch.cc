// watch: a job's events as they happen and one live progress line, until the
// job ends; the exit status says how it ended.
//
// Three sources, each on its own thread or loop: WatchJobEvents (transitions,
// printed as lines), WatchJobMetrics (loss, tokens/s, total steps; optional:
// an older coordinator answers UNIMPLEMENTED and the line shows steps only)
// and a GetJob poll (state and step, and the authority on "has it ended").

#include <unistd.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands/commands.h"
#include "cli/commands/progress_line.h"
#include "cli/output/resources.h"
#include "common/proto_time.h"

namespace tunefleet::cli {
namespace {

class Screen {
 public:
  explicit Screen(bool tty) : tty_(tty) {}
  // A permanent line (an event); the live line is redrawn after it.
  void Line(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (tty_ && !live_.empty()) std::cout << "\r\033[K";
    std::cout << text << "\n";
    if (tty_ && !live_.empty()) std::cout << live_;
    std::cout << std::flush;
  }
  // On a terminal the live line is rewritten in place; in a pipe or a log it is
  // printed only when it changes, at most once per `every`.
  void Live(const std::string& text, bool force = false) {
    std::lock_guard<std::mutex> lock(mu_);
    if (text == live_ && !force) return;
    if (tty_) {
      std::cout << "\r\033[K" << text << std::flush;
    } else if (force || absl::Now() - last_print_ >= absl::Seconds(1)) {
      std::cout << text << std::endl;
      last_print_ = absl::Now();
    }
    live_ = text;
  }
  void End() {
    std::lock_guard<std::mutex> lock(mu_);
    if (tty_ && !live_.empty()) std::cout << "\n" << std::flush;
  }

 private:
  std::mutex mu_;
  bool tty_;
  std::string live_;
  absl::Time last_print_ = absl::InfinitePast();
};

std::string EventText(const v1::JobEvent& e) {
  return absl::StrCat(absl::FormatTime("%H:%M:%S", FromProtoTime(e.time()), absl::LocalTimeZone()), "  ",
                      StateName(e.state()), "  attempt ", e.attempt(), e.message().empty() ? "" : ": ", e.message());
}

int Watch(const GlobalOptions& global, const std::string& id, double interval_s) {
  auto connection_or = Connection::Open(global);
  if (!connection_or.ok()) return ReportError(connection_or.status());
  Connection& connection = **connection_or;
  const std::string name = JobName(id);
  v1::GetJobRequest get;
  get.set_name(name);
  v1::Job job;
  {
    auto context = connection.UnaryContext();
    const grpc::Status status = connection.jobs().GetJob(context.get(), get, &job);
    if (!status.ok()) return ReportError(FromGrpc(status));
  }
  Screen screen(isatty(STDOUT_FILENO) != 0);
  std::mutex mu;
  std::condition_variable cv;
  ProgressLine line;
  bool events_done = false;

  grpc::ClientContext events_context, metrics_context;
  std::thread events([&] {
    v1::WatchJobEventsRequest request;
    request.set_name(name);
    auto reader = connection.jobs().WatchJobEvents(&events_context, request);
    v1::JobEvent event;
    while (reader->Read(&event)) {
      screen.Line(EventText(event));
      if (IsFinal(event.state())) break;
    }
    events_context.TryCancel();  // we stop reading at the final event
    (void)reader->Finish();
    std::lock_guard<std::mutex> lock(mu);
    events_done = true;
    cv.notify_all();
  });
  std::thread metrics([&] {
    v1::WatchJobMetricsRequest request;
    request.set_name(name);
    auto reader = connection.jobs().WatchJobMetrics(&metrics_context, request);
    v1::MetricSample sample;
    while (reader->Read(&sample)) {
      std::lock_guard<std::mutex> lock(mu);
      line.Update(sample, absl::Now());
    }
    (void)reader->Finish();  // UNIMPLEMENTED on older coordinators: the poll alone feeds the line
  });

  // The poll: GetJob every interval. A coordinator that stays away for 30 s ends the watch.
  absl::Time last_ok = absl::Now();
  absl::Status failure;
  while (true) {
    auto context = connection.UnaryContext();
    const grpc::Status status = connection.jobs().GetJob(context.get(), get, &job);
    if (status.ok()) {
      last_ok = absl::Now();
      std::string text;
      {
        std::lock_guard<std::mutex> lock(mu);
        line.Update(job, absl::Now());
        text = line.Render();
      }
      if (IsFinal(job.state())) break;
      screen.Live(text);
    } else if (status.error_code() == grpc::StatusCode::NOT_FOUND || absl::Now() - last_ok > absl::Seconds(30)) {
      failure = FromGrpc(status);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(interval_s * 1000)));
  }
  {
    // Let the events stream print the final event (it may trail GetJob a little).
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(2), [&] { return events_done; });
  }
  events_context.TryCancel();
  metrics_context.TryCancel();
  events.join();
  metrics.join();
  if (!failure.ok()) {
    screen.End();
    return ReportError(failure);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    screen.Live(line.Render(), /*force=*/true);
  }
  screen.End();
  const std::string took = job.start_time().seconds() != 0 && job.end_time().seconds() != 0
                               ? " in " + CompactDuration(FromProtoTime(job.end_time()) - FromProtoTime(job.start_time()))
                               : "";
  switch (job.state()) {
    case v1::JOB_STATE_SUCCEEDED:
      std::cout << job.name() << " SUCCEEDED" << took
                << (job.export_path().empty() ? "" : "; exported to " + job.export_path()) << std::endl;
      return kExitOk;
    case v1::JOB_STATE_FAILED:
      std::cerr << "tunefleet: " << job.name() << " FAILED" << took << ": "
                << (job.failure_reason().empty() ? "no reason given" : job.failure_reason()) << std::endl;
      return kExitJobFailed;
    default:
      std::cerr << "tunefleet: " << job.name() << " CANCELLED" << took << std::endl;
      return kExitJobCancelled;
  }
}

}  // namespace

void AddWatchCommand(CLI::App& app, const GlobalOptions& global, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto interval = std::make_shared<double>(0.5);
  CLI::App* watch = app.add_subcommand(
      "watch", "Follow a job until it ends: events and a live progress line (exit 0 succeeded, 3 failed, 4 cancelled)");
  watch->add_option("job", *id, "Job id or name (jobs/ID)")->required();
  watch->add_option("--interval", *interval, "Seconds between status polls")->capture_default_str();
  watch->callback([&, id, interval] { exit_code = Watch(global, *id, *interval); });
}

}  // namespace tunefleet::cli
