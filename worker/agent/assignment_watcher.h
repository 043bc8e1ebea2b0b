#pragma once
// Holds this worker's WatchAssignments stream on a thread of its own: opened
// for the current session (SetSession, after each registration), reopened
// with backoff after a failure, and every directive read handed to the
// agent's loop through a DirectiveInbox. Nothing escapes the thread; Stop
// (or the destructor) cancels the stream and joins it.

#include <memory>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"
#include "worker/agent/directive_inbox.h"

namespace tunefleet::worker {

struct WatcherBackoff {
  absl::Duration first = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
};

class AssignmentWatcher {
 public:
  // `stub` and `inbox` outlive the watcher.
  AssignmentWatcher(v1::WorkerService::StubInterface* stub, std::string worker_id, DirectiveInbox* inbox,
                    WatcherBackoff backoff = {});
  ~AssignmentWatcher();
  AssignmentWatcher(const AssignmentWatcher&) = delete;
  AssignmentWatcher& operator=(const AssignmentWatcher&) = delete;

  // The stream follows this session: a new one reopens it at once; empty closes it.
  void SetSession(const std::string& session);
  void Stop();
  // Streams opened so far (for tests and logs).
  int opened() const;

 private:
  void Loop();
  void Watch(const std::string& session, grpc::ClientContext* context);

  v1::WorkerService::StubInterface* const stub_;
  const std::string worker_id_;
  DirectiveInbox* const inbox_;
  const WatcherBackoff backoff_;
  mutable absl::Mutex mu_;
  std::string session_ ABSL_GUARDED_BY(mu_);
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by each SetSession that changes it
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  int opened_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace tunefleet::worker
