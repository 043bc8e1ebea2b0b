#pragma once
// Reading a rank's log file in bounded pieces: its tail found by reading
// backwards in blocks (what it reads is proportional to what it returns,
// whatever the file's size), and lines read forward from an offset with a
// cap on a line and on one call. Pure over a LogSource, so a test can count
// the bytes read.

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/fs/unique_fd.h"

namespace tunefleet::worker {

inline constexpr int kMaxTailLines = 10000;                        // ReadRankLog's tail_lines
inline constexpr int64_t kMaxTailBytes = int64_t{4} << 20;         // what a tail may start before the end
inline constexpr int64_t kMaxLogLineBytes = int64_t{64} << 10;     // a longer line comes in pieces
inline constexpr int64_t kMaxLogBytesPerCall = int64_t{64} << 20;  // one non-follow read
inline constexpr size_t kLogBlockBytes = 64 << 10;

// Random access to a file's bytes.
class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual int64_t Size() const = 0;
  // Up to `size` bytes at `offset`; fewer only at the end of the file.
  virtual absl::StatusOr<size_t> ReadAt(int64_t offset, char* out, size_t size) const = 0;
};

// A file opened read-only; pread, so the offset is the caller's.
class LogFile final : public LogSource {
 public:
  static absl::StatusOr<LogFile> Open(const std::string& path);
  int64_t Size() const override;
  absl::StatusOr<size_t> ReadAt(int64_t offset, char* out, size_t size) const override;

 private:
  explicit LogFile(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Where the last `lines` lines begin (0 if fewer), read backwards in blocks
// from the end; never earlier than `max_bytes` before the end (then at the
// first line that starts after that point). A final newline ends the last
// line; it does not start a new one.
int64_t TailOffset(const LogSource& file, int lines, int64_t max_bytes = kMaxTailBytes);

// Reads lines from `offset`, handing each to `emit` with its offset; a line
// over kMaxLogLineBytes is handed over in pieces. An unterminated last line
// is handed over only when `complete` (the writer has exited). Stops after
// about `max_bytes`, or when `emit` returns false. Returns the offset after
// the last byte handed over.
struct LogLine {
  int64_t offset = 0;
  std::string text;  // without its newline
};
absl::StatusOr<int64_t> ReadLogLines(const LogSource& file, int64_t offset, bool complete, int64_t max_bytes,
                                     const std::function<bool(LogLine)>& emit);

}  // namespace tunefleet::worker
