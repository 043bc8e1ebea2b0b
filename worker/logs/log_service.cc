#include "worker/logs/log_service.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/security/tls.h"
#include "worker/supervisor/trainer_launch.h"

namespace tunefleet::worker {

int64_t TailOffset(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in || lines <= 0) return 0;
  in.seekg(0, std::ios::end);
  int64_t pos = static_cast<int64_t>(in.tellg());
  int seen = 0;
  // Walk back from the end; a final newline ends the last line, not a new one.
  for (int64_t i = pos - 2; i >= 0; --i) {
    in.seekg(i);
    if (in.get() == '\n' && ++seen == lines) return i + 1;
  }
  return 0;
}

grpc::Status LogServiceImpl::ReadRankLog(grpc::ServerContext* context, const v1::ReadRankLogRequest* request,
                                         grpc::ServerWriter<v1::LogEntry>* writer) {
  if (require_coordinator_) {
    auto peer = security::PeerCertificate(*context);
    if (!peer.ok() || peer->unit != security::kCoordinatorUnit) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "rank logs are read by the coordinator only");
    }
  }
  if (request->job().find("..") != std::string::npos || request->rank() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job, rank: malformed");
  }
  const std::string path = absl::StrCat(supervisor::AttemptDirectory(work_dir_, request->job(), request->attempt()),
                                        "/rank-", request->rank(), ".log");
  int64_t offset = request->tail_lines() > 0 ? TailOffset(path, request->tail_lines()) : request->offset();
  // A follow may arrive before the rank is started here (the job is RUNNING
  // once placed): wait a while for its log to appear.
  const absl::Time start_grace = absl::Now() + absl::Seconds(10);
  while (!context->IsCancelled()) {
    // Decide before reading: a rank that has exited has written everything.
    const bool live = request->follow() && board_.IsLive(request->job(), request->attempt(), request->rank());
    std::ifstream in(path, std::ios::binary);
    // The log file is created at spawn, a moment before the board lists the
    // rank as live: an empty one is "not started yet" too.
    std::error_code size_error;
    const bool empty = !in || std::filesystem::file_size(path, size_error) == 0 || size_error;
    if (empty && !live && request->follow() && absl::Now() < start_grace) {
      absl::SleepFor(absl::Milliseconds(200));  // assigned, not yet started: its log is coming
      continue;
    }
    if (!in && !live) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no log for rank ", request->rank(),
                                                                    " of attempt ", request->attempt()));
    }
    if (in) {
      in.seekg(offset);
      std::string line;
      while (std::getline(in, line)) {
        if (in.eof() && live) {  // incomplete: read it again once finished
          break;
        }
        v1::LogEntry entry;
        entry.set_rank(request->rank());
        entry.set_attempt(request->attempt());
        entry.set_offset(offset);
        offset += static_cast<int64_t>(line.size()) + (in.eof() ? 0 : 1);
        entry.set_line(std::move(line));
        if (!writer->Write(entry)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      }
    }
    if (!live) return grpc::Status::OK;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

}  // namespace tunefleet::worker
