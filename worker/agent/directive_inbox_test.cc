#include "worker/agent/directive_inbox.h"

#include <poll.h>

#include <thread>

#include <gtest/gtest.h>

namespace tunefleet::worker {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(DirectiveInboxTest, APushFromAnotherThreadWakesThePollAndTakeReturnsAllInOrder) {
  DirectiveInbox inbox;
  ASSERT_GE(inbox.fd(), 0);
  EXPECT_FALSE(Readable(inbox.fd()));
  std::thread reader([&] {
    for (int i = 0; i < 3; ++i) {
      v1::WorkerDirective d;
      d.add_start()->set_job("jobs/" + std::to_string(i));
      inbox.Push(std::move(d));
    }
  });
  reader.join();
  pollfd p{inbox.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  const std::vector<v1::WorkerDirective> taken = inbox.Take();
  ASSERT_EQ(taken.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(taken[i].start(0).job(), "jobs/" + std::to_string(i));
  EXPECT_FALSE(Readable(inbox.fd()));  // quiet again: the loop sleeps until the next push
  EXPECT_TRUE(inbox.Take().empty());
}

TEST(DirectiveInboxTest, ARefusedSessionWakesTheLoopOnce) {
  DirectiveInbox inbox;
  EXPECT_FALSE(inbox.TakeSessionRefused());
  inbox.NoteSessionRefused();
  EXPECT_TRUE(Readable(inbox.fd()));
  EXPECT_TRUE(inbox.Take().empty());
  EXPECT_TRUE(inbox.TakeSessionRefused());
  EXPECT_FALSE(inbox.TakeSessionRefused());
}

}  // namespace
}  // namespace tunefleet::worker
