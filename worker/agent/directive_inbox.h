#pragma once
// Hands the directives the coordinator pushes (read on the watcher's thread)
// to the agent's single-threaded loop: a locked queue, and an eventfd the
// loop polls beside its signals, so it acts within milliseconds instead of
// at its next poll.

#include <mutex>
#include <vector>

#include "tunefleet/v1/worker_service.pb.h"

namespace tunefleet::worker {

class DirectiveInbox {
 public:
  DirectiveInbox();
  ~DirectiveInbox();
  DirectiveInbox(const DirectiveInbox&) = delete;
  DirectiveInbox& operator=(const DirectiveInbox&) = delete;

  // Any thread.
  void Push(v1::WorkerDirective directive);
  // The coordinator refused the stream's session (it restarted, or forgot
  // this worker): the loop should heartbeat now, which re-registers it.
  void NoteSessionRefused();
  // The loop: whether NoteSessionRefused was called since the last call.
  bool TakeSessionRefused();
  // The loop: everything pushed so far, in order; the fd is quiet again after.
  std::vector<v1::WorkerDirective> Take();
  // Readable while directives wait (poll it); -1 if no eventfd could be made
  // (then the loop finds them at its next poll).
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::mutex mu_;
  std::vector<v1::WorkerDirective> queue_;
  bool session_refused_ = false;  // guarded by mu_
};

}  // namespace tunefleet::worker
