#pragma once
// The per-worker mailboxes behind WorkerService.WatchAssignments: the control
// plane pushes a directive the moment it decides one (a gang placed, an
// attempt stopped, a drain), and the worker's stream handler waits here and
// writes it out. One open stream per worker: opening another replaces it.
// Nothing here is durable or authoritative: a directive for a worker without
// an open stream is dropped, and a stream whose mailbox overflows is closed;
// the heartbeat's reconciliation delivers whatever was lost either way.
//
// Its own lock, taken after ControlPlane's (pushes happen under it), never
// before; the stream handlers wait here without the control plane's lock.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::coordinator {

class DirectiveStreams {
 public:
  // `max_pending`: directives one worker may have waiting before its stream
  // is closed (a reader that stopped reading must not grow memory).
  explicit DirectiveStreams(size_t max_pending = 1024) : max_pending_(max_pending) {}

  // One open stream; its handler holds it while it runs.
  class Stream {
   private:
    friend class DirectiveStreams;
    absl::CondVar changed;  // each stream its own: a push wakes one handler, not all
    bool closed = false;
    v1::WorkerDirective pending;
    size_t pending_count = 0;
  };
  // A new stream for `worker` (a resource name); the one it had is closed.
  std::shared_ptr<Stream> Open(const std::string& worker);
  enum class Wait { kDirective, kTimeout, kClosed };
  // Waits up to `timeout` for what was pushed to `stream` (merged into one
  // directive); kClosed once it was replaced or closed.
  Wait Next(Stream& stream, absl::Duration timeout, v1::WorkerDirective* out);
  // The stream's handler is leaving.
  void Close(const std::string& worker, const std::shared_ptr<Stream>& stream);
  // The worker's session ended (registered again, lost): its stream ends.
  void CloseWorker(const std::string& worker);
  // Queues `directive` on the worker's open stream; false when it has none.
  bool Push(const std::string& worker, const v1::WorkerDirective& directive);
  bool Connected(const std::string& worker) const;
  int open() const;

 private:
  void CloseLocked(Stream& stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const size_t max_pending_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tunefleet::coordinator
