#include "worker/agent/assignment_watcher.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace tunefleet::worker {

AssignmentWatcher::AssignmentWatcher(v1::WorkerService::StubInterface* stub, std::string worker_id,
                                     DirectiveInbox* inbox, WatcherBackoff backoff)
    : stub_(stub), worker_id_(std::move(worker_id)), inbox_(inbox), backoff_(backoff) {
  thread_ = std::thread([this] { Loop(); });
}

AssignmentWatcher::~AssignmentWatcher() { Stop(); }

void AssignmentWatcher::SetSession(const std::string& session) {
  absl::MutexLock lock(&mu_);
  if (session == session_) return;
  session_ = session;
  ++epoch_;
  if (current_ != nullptr) current_->TryCancel();
}

void AssignmentWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

int AssignmentWatcher::opened() const {
  absl::MutexLock lock(&mu_);
  return opened_;
}

void AssignmentWatcher::Watch(const std::string& session, grpc::ClientContext* context) {
  v1::WatchAssignmentsRequest request;
  request.set_worker_id(worker_id_);
  request.set_session(session);
  std::unique_ptr<grpc::ClientReaderInterface<v1::WorkerDirective>> reader =
      stub_->WatchAssignments(context, request);
  v1::WorkerDirective directive;
  while (reader->Read(&directive)) {
    inbox_->Push(std::move(directive));
    directive.Clear();
  }
  const grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) inbox_->NoteSessionRefused();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    Log("worker", absl::StrCat("assignment stream ended: ", status.error_message(), " (heartbeats still deliver)"));
  }
}

void AssignmentWatcher::Loop() {
  absl::Duration backoff = backoff_.first;
  while (true) {
    std::string session;
    int64_t epoch = 0;
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AssignmentWatcher* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) { return w->stop_ || !w->session_.empty(); },
          this));
      if (stop_) return;
      session = session_;
      epoch = epoch_;
      current_ = &context;
      ++opened_;
    }
    const absl::Time opened_at = absl::Now();
    try {
      Watch(session, &context);
    } catch (const std::exception& e) {
      Log("worker", absl::StrCat("assignment stream: ", e.what()));
    } catch (...) {
      Log("worker", "assignment stream: unknown exception");
    }
    absl::MutexLock lock(&mu_);
    current_ = nullptr;
    if (stop_) return;
    if (epoch_ != epoch) {  // a new session: reopen at once
      backoff = backoff_.first;
      continue;
    }
    // A stream that held a while was healthy: start the backoff over.
    if (absl::Now() - opened_at > backoff_.max) backoff = backoff_.first;
    struct Wake {
      AssignmentWatcher* watcher;
      int64_t epoch;
    } wake{this, epoch};
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Wake* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                               return w->watcher->stop_ || w->watcher->epoch_ != w->epoch;
                             },
                             &wake),
                         backoff);
    backoff = std::min(backoff * 2, backoff_.max);
  }
}

}  // namespace tunefleet::worker
