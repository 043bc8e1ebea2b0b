#pragma once
// WorkerLogService: streams a rank's log file from this worker's disk. The
// coordinator proxies JobService.ReadJobLogs here, so logs are never copied
// off the node and `follow` is live (the file is polled).
//
// Bounded: a tail is found reading backwards from the end (log_reader.h);
// one call without follow returns at most kMaxLogBytesPerCall (continue from
// the last entry's offset); a follow ends when its client goes (checked on
// every poll) and after `max_idle` without a new byte (the client follows
// again from its offset).

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "tunefleet/v1/worker_service.grpc.pb.h"
#include "worker/agent/worker_status_board.h"

namespace tunefleet::worker {

struct LogServiceOptions {
  // With TLS, only a client certificate of unit "coordinator" may read (the
  // TLS handshake already demands one from the CA).
  bool require_coordinator = false;
  absl::Duration poll_interval = absl::Milliseconds(200);
  // A follow for a rank assigned here but not started yet waits this long for its log.
  absl::Duration start_grace = absl::Seconds(10);
  // A follow ends after this long without a new byte (a connected client
  // that never goes must not hold a server thread for ever).
  absl::Duration max_idle = absl::Hours(1);
};

class LogServiceImpl final : public v1::WorkerLogService::Service {
 public:
  LogServiceImpl(std::string work_dir, const WorkerStatusBoard& board, LogServiceOptions options = {})
      : work_dir_(std::move(work_dir)), board_(board), options_(options) {}
  grpc::Status ReadRankLog(grpc::ServerContext* context, const v1::ReadRankLogRequest* request,
                           grpc::ServerWriter<v1::LogEntry>* writer) override;

  // Calls of ReadRankLog still running (for /metrics, and tests that a
  // cancelled follow ends).
  int active_reads() const { return active_reads_.load(); }

 private:
  const std::string work_dir_;
  const WorkerStatusBoard& board_;
  const LogServiceOptions options_;
  std::atomic<int> active_reads_{0};
};

}  // namespace tunefleet::worker
