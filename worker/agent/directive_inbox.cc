#include "worker/agent/directive_inbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace tunefleet::worker {

DirectiveInbox::DirectiveInbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

DirectiveInbox::~DirectiveInbox() {
  if (fd_ >= 0) close(fd_);
}

void DirectiveInbox::Push(v1::WorkerDirective directive) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(directive));
  }
  if (fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof(one));  // only fails when the counter is full: still readable
  }
}

void DirectiveInbox::NoteSessionRefused() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_refused_ = true;
  }
  if (fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(fd_, &one, sizeof(one));
  }
}

bool DirectiveInbox::TakeSessionRefused() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(session_refused_, false);
}

std::vector<v1::WorkerDirective> DirectiveInbox::Take() {
  if (fd_ >= 0) {
    uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = read(fd_, &count, sizeof(count));  // EAGAIN when nothing was pushed
  }
  // Drained after the read: a push between the two is kept and its write makes the fd readable again.
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::WorkerDirective> out;
  out.swap(queue_);
  return out;
}

}  // namespace tunefleet::worker
