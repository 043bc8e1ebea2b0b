#pragma once
// WorkerLogService: streams a rank's log file from this worker's disk. The
// coordinator proxies JobService.ReadJobLogs here, so logs are never copied
// off the node and `follow` is live (the file is polled every 200 ms).

#include <string>

#include "tunefleet/v1/worker_service.grpc.pb.h"
#include "worker/agent/worker_status_board.h"

namespace tunefleet::worker {

class LogServiceImpl final : public v1::WorkerLogService::Service {
 public:
  // `require_coordinator`: with TLS, only a client certificate of unit
  // "coordinator" may read (the TLS handshake already demands one from the CA).
  LogServiceImpl(std::string work_dir, const WorkerStatusBoard& board, bool require_coordinator = false)
      : work_dir_(std::move(work_dir)), board_(board), require_coordinator_(require_coordinator) {}
  grpc::Status ReadRankLog(grpc::ServerContext* context, const v1::ReadRankLogRequest* request,
                           grpc::ServerWriter<v1::LogEntry>* writer) override;

 private:
  const std::string work_dir_;
  const WorkerStatusBoard& board_;
  const bool require_coordinator_;
};

// The byte offset where the last `lines` lines of `path` begin (0 if fewer).
int64_t TailOffset(const std::string& path, int lines);

}  // namespace tunefleet::worker
