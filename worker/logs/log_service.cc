#include "worker/logs/log_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/security/tls.h"
#include "worker/logs/log_reader.h"
#include "worker/supervisor/trainer_launch.h"

namespace tunefleet::worker {
namespace {

// Counts a call while it runs, whichever way it returns.
class ActiveRead {
 public:
  explicit ActiveRead(std::atomic<int>& count) : count_(count) { ++count_; }
  ~ActiveRead() { --count_; }
  ActiveRead(const ActiveRead&) = delete;
  ActiveRead& operator=(const ActiveRead&) = delete;

 private:
  std::atomic<int>& count_;
};

// A follow that ends before its rank does is worth a line in the worker's
// log: an operator sees streams end, and a test that a relay's cancellation
// reached the worker.
grpc::Status FollowEnded(const v1::ReadRankLogRequest& request, const std::string& why) {
  if (request.follow()) {
    Log("worker", absl::StrCat("log follow of ", request.job(), " attempt ", request.attempt(), " rank ",
                               request.rank(), " ended: ", why));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

}  // namespace

grpc::Status LogServiceImpl::ReadRankLog(grpc::ServerContext* context, const v1::ReadRankLogRequest* request,
                                         grpc::ServerWriter<v1::LogEntry>* writer) {
  if (options_.require_coordinator) {
    auto peer = security::PeerCertificate(*context);
    if (!peer.ok() || peer->unit != security::kCoordinatorUnit) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "rank logs are read by the coordinator only");
    }
  }
  if (request->job().find("..") != std::string::npos || request->rank() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job, rank: malformed");
  }
  if (request->offset() < 0 || request->tail_lines() < 0 || request->tail_lines() > kMaxTailLines) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("offset ", request->offset(), ", tail_lines ", request->tail_lines(),
                                     ": offset must not be negative, tail_lines at most ", kMaxTailLines));
  }
  ActiveRead counted(active_reads_);
  const std::string path = absl::StrCat(supervisor::AttemptDirectory(work_dir_, request->job(), request->attempt()),
                                        "/rank-", request->rank(), ".log");
  int64_t offset = request->offset();
  bool tail_pending = request->tail_lines() > 0;
  int64_t sent = 0;  // bytes this call has streamed
  absl::Time last_new_byte = absl::Now();
  // A follow may arrive before the rank is started here (the job is RUNNING
  // once placed): wait a while for its log to appear.
  const absl::Time start_grace = absl::Now() + options_.start_grace;
  while (!context->IsCancelled()) {
    // Decide before reading: a rank that has exited has written everything.
    const bool live = request->follow() && board_.IsLive(request->job(), request->attempt(), request->rank());
    absl::StatusOr<LogFile> file = LogFile::Open(path);
    // The log file is created at spawn, a moment before the board lists the
    // rank as live: an empty one is "not started yet" too.
    const bool empty = !file.ok() || file->Size() == 0;
    if (empty && !live && request->follow() && absl::Now() < start_grace) {
      absl::SleepFor(options_.poll_interval);  // assigned, not yet started: its log is coming
      continue;
    }
    if (!file.ok() && !live) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no log for rank ", request->rank(),
                                                                    " of attempt ", request->attempt()));
    }
    bool more = false;  // stopped at the byte budget with bytes left to read now
    if (file.ok()) {
      if (tail_pending && !empty) {
        offset = TailOffset(*file, request->tail_lines());
        tail_pending = false;
      }
      bool client_gone = false;
      const int64_t budget = request->follow() ? kMaxLogBytesPerCall : kMaxLogBytesPerCall - sent;
      more = offset + budget < file->Size();
      absl::StatusOr<int64_t> next =
          ReadLogLines(*file, offset, /*complete=*/!live, budget, [&](LogLine line) {
            v1::LogEntry entry;
            entry.set_rank(request->rank());
            entry.set_attempt(request->attempt());
            entry.set_offset(line.offset);
            entry.set_line(std::move(line.text));
            client_gone = !writer->Write(entry);
            return !client_gone;
          });
      if (client_gone) return FollowEnded(*request, "the client went away");
      if (!next.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(next.status().message()));
      if (*next != offset) last_new_byte = absl::Now();
      sent += *next - offset;
      offset = *next;
      // One call without follow is bounded; the client continues from the
      // last entry's offset.
      if (!request->follow() && more) return grpc::Status::OK;
    }
    if (!live && !more) return grpc::Status::OK;
    if (live && absl::Now() - last_new_byte > options_.max_idle) {
      FollowEnded(*request, absl::StrCat("idle for ", absl::FormatDuration(options_.max_idle)));
      return grpc::Status::OK;  // the client follows again from its offset
    }
    if (!more) absl::SleepFor(options_.poll_interval);
  }
  return FollowEnded(*request, "the client went away");
}

}  // namespace tunefleet::worker
