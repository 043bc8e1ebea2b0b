#include "worker/logs/log_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "worker/logs/log_reader.h"
#include "worker/supervisor/trainer_launch.h"

namespace tunefleet::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kJob[] = "jobs/j1";

// The service on 127.0.0.1 (port 0), in this process, and a client of it.
class LogServer {
 public:
  LogServer(const std::string& work_dir, const WorkerStatusBoard& board, LogServiceOptions options)
      : service_(work_dir, board, options) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    stub_ = v1::WorkerLogService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  ~LogServer() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }
  v1::WorkerLogService::Stub& stub() { return *stub_; }
  const LogServiceImpl& service() const { return service_; }

 private:
  LogServiceImpl service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::WorkerLogService::Stub> stub_;
};

// A work dir with rank 0's log of attempt 1 holding `lines`.
std::string WorkDir(const std::vector<std::string>& lines) {
  const std::string dir = ::testing::TempDir() + "/logs-" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
                          std::to_string(getpid());
  std::filesystem::remove_all(dir);
  const std::string attempt = supervisor::AttemptDirectory(dir, kJob, 1);
  std::filesystem::create_directories(attempt);
  std::ofstream log(attempt + "/rank-0.log");
  for (const std::string& line : lines) log << line << "\n";
  return dir;
}

void MarkLive(WorkerStatusBoard& board) {
  BoardSnapshot snapshot;
  snapshot.live.insert({kJob, 1, 0});
  board.Publish(snapshot);
}

v1::ReadRankLogRequest Request(bool follow, int tail_lines = 0) {
  v1::ReadRankLogRequest request;
  request.set_job(kJob);
  request.set_attempt(1);
  request.set_rank(0);
  request.set_follow(follow);
  request.set_tail_lines(tail_lines);
  return request;
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(LogService, ACancelledFollowEndsItsLoopOnTheServer) {
  WorkerStatusBoard board;
  MarkLive(board);
  LogServiceOptions options;
  options.poll_interval = absl::Milliseconds(50);
  LogServer server(WorkDir({"started"}), board, options);
  grpc::ClientContext context;
  auto reader = server.stub().ReadRankLog(&context, Request(/*follow=*/true));
  v1::LogEntry entry;
  ASSERT_TRUE(reader->Read(&entry));
  EXPECT_EQ(entry.line(), "started");
  EXPECT_EQ(server.service().active_reads(), 1);  // following a live rank, with nothing new
  context.TryCancel();
  EXPECT_TRUE(WaitFor([&] { return server.service().active_reads() == 0; }, 3s))
      << "the follow loop still runs after its client went away";
  reader->Finish().IgnoreError();
}

TEST(LogService, AnIdleFollowEndsAfterItsBound) {
  WorkerStatusBoard board;
  MarkLive(board);
  LogServiceOptions options;
  options.poll_interval = absl::Milliseconds(20);
  options.max_idle = absl::Milliseconds(300);
  LogServer server(WorkDir({"a", "b"}), board, options);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto reader = server.stub().ReadRankLog(&context, Request(/*follow=*/true));
  std::vector<int64_t> offsets;
  for (v1::LogEntry entry; reader->Read(&entry);) offsets.push_back(entry.offset());
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();  // ended by the idle bound, not the deadline
  EXPECT_THAT(offsets, ElementsAre(0, 2));             // the client follows again from 2 + 2
  EXPECT_TRUE(WaitFor([&] { return server.service().active_reads() == 0; }, 3s));
}

TEST(LogService, TailReturnsTheLastLinesAndItsBoundIsNamed) {
  WorkerStatusBoard board;
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i) lines.push_back("line " + std::to_string(i));
  LogServer server(WorkDir(lines), board, {});
  {
    grpc::ClientContext context;
    auto reader = server.stub().ReadRankLog(&context, Request(/*follow=*/false, /*tail_lines=*/3));
    std::vector<std::string> got;
    for (v1::LogEntry entry; reader->Read(&entry);) got.push_back(entry.line());
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_THAT(got, ElementsAre("line 97", "line 98", "line 99"));
  }
  grpc::ClientContext context;
  auto reader =
      server.stub().ReadRankLog(&context, Request(/*follow=*/false, /*tail_lines=*/kMaxTailLines + 1));
  v1::LogEntry entry;
  EXPECT_FALSE(reader->Read(&entry));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("tail_lines at most 10000"));
}

}  // namespace
}  // namespace tunefleet::worker
