#pragma once
// The trainer's machine-readable progress: one JSON object per line, appended
// to a file that the worker tails (and a person can `tail -f`). A file, not a
// pipe, so a worker that restarts can pick the stream up again where it was.
//
//   {"event":"step","time":1732400000.12,"rank":0,"step":12,"total_steps":100,
//    "train_loss":2.31,"learning_rate":1e-4,"grad_norm":0.8,"tokens_per_second":5120}
//   {"event":"eval","step":20,"eval_loss":2.1}
//   {"event":"checkpoint","step":20,"path":"...","save_seconds":0.4,"bytes":123,"stall_seconds":0.01}
//   {"event":"done","step":100,"export_path":"..."}

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tunefleet {

class MetricsStream {
 public:
  // Appends to `path`; an empty path gives a stream that writes nothing.
  static absl::StatusOr<std::unique_ptr<MetricsStream>> Open(const std::string& path, int rank);
  ~MetricsStream();
  MetricsStream(const MetricsStream&) = delete;
  MetricsStream& operator=(const MetricsStream&) = delete;

  // Writes one line {"event": event, "time": now, "rank": rank, "step": step, ...values, ...text}
  // and flushes it, so a reader never sees half a line for long.
  void Write(const std::string& event, int64_t step, const std::map<std::string, double>& values,
             const std::map<std::string, std::string>& text = {});

 private:
  MetricsStream(std::FILE* file, int rank) : file_(file), rank_(rank) {}
  std::FILE* file_;
  int rank_;
};

}  // namespace tunefleet
