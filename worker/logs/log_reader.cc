#include "worker/logs/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tunefleet::worker {

absl::StatusOr<LogFile> LogFile::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  return LogFile(std::move(fd));
}

int64_t LogFile::Size() const {
  struct stat st {};
  return ::fstat(fd_.get(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

absl::StatusOr<size_t> LogFile::ReadAt(int64_t offset, char* out, size_t size) const {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd_.get(), out + done, size - done, offset + static_cast<int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "cannot read the log");
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

int64_t TailOffset(const LogSource& file, int lines, int64_t max_bytes) {
  const int64_t size = file.Size();
  if (lines <= 0 || size <= 0) return size > 0 ? size : 0;
  const int64_t floor = std::max<int64_t>(0, size - std::max<int64_t>(max_bytes, 1));
  std::vector<char> block(kLogBlockBytes);
  int seen = 0;
  // The last byte is skipped: a final newline ends the last line.
  int64_t end = size - 1;
  while (end > floor) {
    const int64_t start = std::max(floor, end - static_cast<int64_t>(block.size()));
    absl::StatusOr<size_t> got = file.ReadAt(start, block.data(), static_cast<size_t>(end - start));
    if (!got.ok() || *got != static_cast<size_t>(end - start))
      return floor;  // shrank under us: from the floor
    for (int64_t i = end - start - 1; i >= 0; --i) {
      if (block[static_cast<size_t>(i)] == '\n' && ++seen == lines) return start + i + 1;
    }
    end = start;
  }
  if (floor == 0) return 0;
  // Cut by max_bytes: start at the first whole line after the floor.
  absl::StatusOr<size_t> got = file.ReadAt(floor, block.data(), std::min<size_t>(block.size(), size - floor));
  if (got.ok()) {
    const std::string_view head(block.data(), *got);
    if (const size_t newline = head.find('\n'); newline != std::string_view::npos) return floor + newline + 1;
  }
  return floor;
}

absl::StatusOr<int64_t> ReadLogLines(const LogSource& file, int64_t offset, bool complete, int64_t max_bytes,
                                     const std::function<bool(LogLine)>& emit) {
  const int64_t size = file.Size();
  const int64_t limit = max_bytes > 0 ? std::min(size, offset + max_bytes) : size;
  std::vector<char> block(kLogBlockBytes);
  std::string pending;  // the line being gathered; it starts at `offset`
  int64_t at = offset;  // the next byte to read
  while (at < limit) {
    const size_t want =
        static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(block.size()), limit - at));
    absl::StatusOr<size_t> got = file.ReadAt(at, block.data(), want);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    at += static_cast<int64_t>(*got);
    std::string_view bytes(block.data(), *got);
    while (!bytes.empty()) {
      const size_t newline = bytes.find('\n');
      const size_t room = static_cast<size_t>(kMaxLogLineBytes) - pending.size();
      int64_t length = 0;
      if (newline != std::string_view::npos && newline <= room) {
        pending.append(bytes.substr(0, newline));
        bytes.remove_prefix(newline + 1);
        length = static_cast<int64_t>(pending.size()) + 1;
      } else {
        const size_t take = std::min(bytes.size(), room);
        pending.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        if (pending.size() < static_cast<size_t>(kMaxLogLineBytes)) break;  // the rest is in the next block
        length = static_cast<int64_t>(pending.size());                      // one full piece of a long line
      }
      if (!emit(LogLine{offset, std::move(pending)})) return offset;
      offset += length;
      pending.clear();
    }
  }
  // An unterminated last line: whole only once its writer has exited.
  if (!pending.empty() && complete && at >= size) {
    const int64_t length = static_cast<int64_t>(pending.size());
    if (!emit(LogLine{offset, std::move(pending)})) return offset;
    offset += length;
  }
  return offset;
}

}  // namespace tunefleet::worker
