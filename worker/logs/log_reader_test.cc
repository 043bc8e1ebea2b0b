#include "worker/logs/log_reader.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tunefleet::worker {
namespace {

using ::testing::ElementsAre;

// Counts what the code under test reads.
class CountingSource final : public LogSource {
 public:
  explicit CountingSource(const LogSource& inner) : inner_(inner) {}
  int64_t Size() const override { return inner_.Size(); }
  absl::StatusOr<size_t> ReadAt(int64_t offset, char* out, size_t size) const override {
    absl::StatusOr<size_t> got = inner_.ReadAt(offset, out, size);
    if (got.ok()) bytes_read += static_cast<int64_t>(*got);
    return got;
  }
  mutable int64_t bytes_read = 0;

 private:
  const LogSource& inner_;
};

// Bytes in memory, as a source.
class TextSource final : public LogSource {
 public:
  explicit TextSource(std::string text) : text_(std::move(text)) {}
  int64_t Size() const override { return static_cast<int64_t>(text_.size()); }
  absl::StatusOr<size_t> ReadAt(int64_t offset, char* out, size_t size) const override {
    const size_t n = std::min(size, text_.size() - static_cast<size_t>(offset));
    text_.copy(out, n, static_cast<size_t>(offset));
    return n;
  }

 private:
  std::string text_;
};

std::string TestFile(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
}

std::vector<LogLine> ReadAll(const LogSource& file, int64_t offset, bool complete, int64_t max_bytes = 0) {
  std::vector<LogLine> lines;
  EXPECT_TRUE(ReadLogLines(file, offset, complete, max_bytes, [&](LogLine line) {
                lines.push_back(std::move(line));
                return true;
              }).ok());
  return lines;
}

std::vector<std::string> Texts(const std::vector<LogLine>& lines) {
  std::vector<std::string> texts;
  for (const LogLine& line : lines) texts.push_back(line.text);
  return texts;
}

TEST(LogReader, TheTailOfA200MbLogReadsOnlyWhatItReturns) {
  // 200 MB: a sparse hole (no newline in it), then 1,000 numbered lines.
  const std::string path = TestFile("big.log");
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 200'000'000), 0);
    ::close(fd);
    std::ofstream out(path, std::ios::app);
    for (int i = 0; i < 1000; ++i) out << "line " << i << "\n";
  }
  absl::StatusOr<LogFile> file = LogFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  CountingSource counted(*file);
  const int64_t offset = TailOffset(counted, 3);
  EXPECT_LE(counted.bytes_read, static_cast<int64_t>(kLogBlockBytes));  // one block back from the end
  EXPECT_THAT(Texts(ReadAll(*file, offset, true)), ElementsAre("line 997", "line 998", "line 999"));

  // More lines than the file has within the bound: the tail stops at the
  // bound (the first whole line after it), reading about that much.
  counted.bytes_read = 0;
  const int64_t bounded = TailOffset(counted, kMaxTailLines, kMaxTailBytes);
  EXPECT_GE(bounded, file->Size() - kMaxTailBytes);
  EXPECT_LE(counted.bytes_read, kMaxTailBytes + static_cast<int64_t>(kLogBlockBytes));
  std::filesystem::remove(path);
}

TEST(LogReader, TailCountsLinesNotTheFinalNewline) {
  EXPECT_EQ(TailOffset(TextSource("a\nb\nc\n"), 2), 2);
  EXPECT_EQ(TailOffset(TextSource("a\nb\nc"), 2), 2);
  EXPECT_EQ(TailOffset(TextSource("a\nb\n"), 5), 0);
  EXPECT_EQ(TailOffset(TextSource(""), 5), 0);
  // Across block edges.
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "0123456789\n";
  EXPECT_EQ(TailOffset(TextSource(text), 30000), static_cast<int64_t>(text.size()) - 30000 * 11);
}

TEST(LogReader, LinesCarryTheirOffsetsAndAnUnfinishedOneWaitsForItsWriter) {
  const TextSource file("one\ntwo\nthr");
  const std::vector<LogLine> live = ReadAll(file, 0, /*complete=*/false);
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[1].offset, 4);
  EXPECT_THAT(Texts(ReadAll(file, 4, /*complete=*/true)), ElementsAre("two", "thr"));
  absl::StatusOr<int64_t> next = ReadLogLines(file, 0, false, 0, [](LogLine) { return true; });
  EXPECT_EQ(*next, 8);  // the unfinished line is read again next time
}

TEST(LogReader, ALongLineComesInPiecesAndOneCallIsBounded) {
  const std::string long_line(kMaxLogLineBytes * 2 + 10, 'x');
  const TextSource file(long_line + "\nshort\n");
  const std::vector<LogLine> lines = ReadAll(file, 0, true);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].text.size(), static_cast<size_t>(kMaxLogLineBytes));
  EXPECT_EQ(lines[1].offset, kMaxLogLineBytes);
  EXPECT_EQ(lines[2].text, std::string(10, 'x'));
  EXPECT_EQ(lines[3].text, "short");
  // A budget of 8 bytes: the lines wholly inside it.
  EXPECT_THAT(Texts(ReadAll(TextSource("abc\ndef\nghi\n"), 0, true, 8)), ElementsAre("abc", "def"));
}

}  // namespace
}  // namespace tunefleet::worker
