#include "coordinator/core/directive_streams.h"

namespace tunefleet::coordinator {

std::shared_ptr<DirectiveStreams::Stream> DirectiveStreams::Open(const std::string& worker) {
  auto stream = std::make_shared<Stream>();
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Stream>& slot = streams_[worker];
  if (slot) CloseLocked(*slot);
  slot = stream;
  return stream;
}

void DirectiveStreams::CloseLocked(Stream& stream) {
  stream.closed = true;
  stream.pending.Clear();
  stream.changed.Signal();
}

DirectiveStreams::Wait DirectiveStreams::Next(Stream& stream, absl::Duration timeout, v1::WorkerDirective* out) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    if (stream.closed) return Wait::kClosed;
    if (stream.pending_count > 0) {
      *out = std::move(stream.pending);
      stream.pending.Clear();
      stream.pending_count = 0;
      return Wait::kDirective;
    }
    if (stream.changed.WaitWithDeadline(&mu_, deadline)) return Wait::kTimeout;
  }
}

void DirectiveStreams::Close(const std::string& worker, const std::shared_ptr<Stream>& stream) {
  absl::MutexLock lock(&mu_);
  CloseLocked(*stream);
  auto it = streams_.find(worker);
  if (it != streams_.end() && it->second == stream) streams_.erase(it);
}

void DirectiveStreams::CloseWorker(const std::string& worker) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(worker);
  if (it == streams_.end()) return;
  CloseLocked(*it->second);
  streams_.erase(it);
}

bool DirectiveStreams::Push(const std::string& worker, const v1::WorkerDirective& directive) {
  const size_t count = directive.start_size() + directive.stop_size() + directive.checkpoint_now_size();
  if (count == 0) return true;
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(worker);
  if (it == streams_.end()) return false;
  Stream& stream = *it->second;
  if (stream.pending_count + count > max_pending_) {
    CloseLocked(stream);  // its reader fell behind: it reconnects, the heartbeat repairs
    streams_.erase(it);
    return false;
  }
  stream.pending.MergeFrom(directive);
  stream.pending_count += count;
  stream.changed.Signal();
  return true;
}

bool DirectiveStreams::Connected(const std::string& worker) const {
  absl::MutexLock lock(&mu_);
  return streams_.count(worker) > 0;
}

int DirectiveStreams::open() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(streams_.size());
}

}  // namespace tunefleet::coordinator
