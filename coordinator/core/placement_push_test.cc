// Placement in milliseconds: a placed gang is pushed to its workers' streams
// (WatchAssignments) without waiting for a heartbeat; the placement pass,
// woken by a submission, reads the incremental queue and decides exactly as a
// full rebuild of the queue would.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "coordinator/core/control_plane.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/store/sqlite_store.h"
#include "tests/testing/child_process.h"

namespace tunefleet::coordinator {
namespace {

class PlacementPushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sqlite = store::OpenSqliteStore(tunefleet::testing::FreshTestDirectory() + "/state.db");
    ASSERT_TRUE(sqlite.ok()) << sqlite.status();
    ControlPlaneOptions options;
    options.clock = [this] { return now_; };
    auto plane = ControlPlane::Create(std::move(*sqlite), options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }
  void Register(const std::string& id, int gpus) {
    v1::RegisterWorkerRequest request;
    request.set_worker_id(id);
    for (int g = 0; g < gpus; ++g) request.mutable_resources()->add_gpus()->set_index(g);
    auto response = plane_->RegisterWorker(request);
    ASSERT_TRUE(response.ok()) << response.status();
    sessions_[id] = response->session();
  }
  std::shared_ptr<DirectiveStreams::Stream> Open(const std::string& id) {
    v1::WatchAssignmentsRequest request;
    request.set_worker_id(id);
    request.set_session(sessions_[id]);
    auto stream = plane_->OpenDirectiveStream(request);
    EXPECT_TRUE(stream.ok()) << stream.status();
    return stream.ok() ? *stream : nullptr;
  }
  v1::Job Submit(int32_t world_size, int32_t gpus_per_rank, int32_t priority = 0) {
    v1::CreateJobRequest request;
    request.mutable_spec()->mutable_model()->set_path("/m");
    request.mutable_spec()->mutable_dataset()->set_path("/d.jsonl");
    request.mutable_spec()->mutable_resources()->set_world_size(world_size);
    request.mutable_spec()->mutable_resources()->set_gpus_per_rank(gpus_per_rank);
    request.mutable_spec()->set_priority(priority);
    auto job = plane_->CreateJob(request);
    EXPECT_TRUE(job.ok()) << job.status();
    return *job;
  }
  // What the stream holds now (nothing: an empty directive).
  v1::WorkerDirective Take(DirectiveStreams::Stream& stream) {
    v1::WorkerDirective directive;
    plane_->directive_streams().Next(stream, absl::ZeroDuration(), &directive);
    return directive;
  }
  absl::StatusOr<v1::HeartbeatResponse> Beat(const std::string& id, const std::vector<v1::RankStatus>& ranks) {
    v1::HeartbeatRequest request;
    request.set_worker_id(id);
    request.set_session(sessions_[id]);
    for (const auto& r : ranks) *request.add_ranks() = r;
    return plane_->Heartbeat(request);
  }
  static v1::RankStatus Rank(const v1::Job& job, int32_t rank, v1::RankPhase phase, int32_t port = 0) {
    v1::RankStatus status;
    status.set_job(job.name());
    status.set_generation(job.generation());
    status.set_rank(rank);
    status.set_phase(phase);
    status.set_rendezvous_port(port);
    return status;
  }

  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<ControlPlane> plane_;
  std::map<std::string, std::string> sessions_;
};

TEST_F(PlacementPushTest, ASubmissionWakesThePassAndTheAssignmentIsPushedWithoutAHeartbeat) {
  Register("w1", 8);
  auto stream = Open("w1");
  ASSERT_NE(stream, nullptr);
  plane_->RunPlacementPass(absl::ZeroDuration());  // the registration's (a new worker may let a job start)
  EXPECT_FALSE(plane_->RunPlacementPass(absl::ZeroDuration()));  // nothing changed since: the pass does not run
  const v1::Job job = Submit(2, 1);
  ASSERT_TRUE(plane_->RunPlacementPass(absl::ZeroDuration()));  // woken by the submission, no tick
  EXPECT_EQ(plane_->GetJob(job.name())->state(), v1::JOB_STATE_RUNNING);
  const v1::WorkerDirective directive = Take(*stream);
  ASSERT_EQ(directive.start_size(), 1);
  EXPECT_EQ(directive.start(0).job(), job.name());
  EXPECT_EQ(directive.start(0).ranks_size(), 2);
  // The heartbeat still carries it until the worker reports the ranks: the same assignment.
  auto beat = Beat("w1", {});
  ASSERT_TRUE(beat.ok());
  ASSERT_EQ(beat->start_size(), 1);
  EXPECT_EQ(beat->start(0).generation(), directive.start(0).generation());
  EXPECT_EQ(beat->start(0).ranks(0), directive.start(0).ranks(0));
}

TEST_F(PlacementPushTest, AGangOverTwoWorkersIsPushedToTheSecondOnceRankZeroReportsItsPort) {
  Register("a", 1);
  Register("b", 1);
  auto a = Open("a");
  auto b = Open("b");
  const v1::Job submitted = Submit(2, 1);
  plane_->RunPlacementPass(absl::ZeroDuration());
  const v1::Job job = *plane_->GetJob(submitted.name());
  ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  const std::string first = job.placements(0).worker() == "workers/a" ? "a" : "b";
  const std::string second = first == "a" ? "b" : "a";
  auto& first_stream = first == "a" ? a : b;
  auto& second_stream = first == "a" ? b : a;
  ASSERT_EQ(Take(*first_stream).start_size(), 1);
  EXPECT_EQ(Take(*second_stream).start_size(), 0);  // waits for rank 0's port
  ASSERT_TRUE(Beat(first, {Rank(job, 0, v1::RANK_PHASE_RUNNING, 29555)}).ok());
  const v1::WorkerDirective pushed = Take(*second_stream);
  ASSERT_EQ(pushed.start_size(), 1);
  EXPECT_EQ(pushed.start(0).rendezvous().port(), 29555);
  EXPECT_EQ(pushed.start(0).ranks(0), 1);
}

TEST_F(PlacementPushTest, AnEndedAttemptsStopIsPushedAndTheFreedSlotWakesThePass) {
  Register("w1", 1);
  auto stream = Open("w1");
  const v1::Job first = Submit(1, 1);
  const v1::Job second = Submit(1, 1);
  plane_->RunPlacementPass(absl::ZeroDuration());
  const v1::Job running = *plane_->GetJob(first.name());
  ASSERT_EQ(running.state(), v1::JOB_STATE_RUNNING);
  Take(*stream);
  ASSERT_TRUE(plane_->CancelJob(first.name()).ok());
  const v1::WorkerDirective stop = Take(*stream);
  ASSERT_EQ(stop.stop_size(), 1);
  EXPECT_EQ(stop.stop(0).generation(), running.generation());
  // The slot is free once the worker no longer reports the rank live.
  ASSERT_TRUE(Beat("w1", {Rank(running, 0, v1::RANK_PHASE_STOPPED)}).ok());
  ASSERT_TRUE(plane_->RunPlacementPass(absl::ZeroDuration()));
  EXPECT_EQ(plane_->GetJob(second.name())->state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Take(*stream).start_size(), 1);
}

TEST_F(PlacementPushTest, AStreamNeedsTheCurrentSessionAndRegisteringAgainEndsTheOldOne) {
  Register("w1", 1);
  v1::WatchAssignmentsRequest stale;
  stale.set_worker_id("w1");
  stale.set_session("not-the-session");
  EXPECT_EQ(plane_->OpenDirectiveStream(stale).status().code(), absl::StatusCode::kUnauthenticated);
  auto stream = Open("w1");
  auto replacement = Open("w1");  // one stream per worker: the newer wins
  v1::WorkerDirective directive;
  EXPECT_EQ(plane_->directive_streams().Next(*stream, absl::ZeroDuration(), &directive),
            DirectiveStreams::Wait::kClosed);
  Register("w1", 1);  // a new session
  EXPECT_EQ(plane_->directive_streams().Next(*replacement, absl::ZeroDuration(), &directive),
            DirectiveStreams::Wait::kClosed);
  EXPECT_FALSE(plane_->directive_streams().Connected("workers/w1"));
}

TEST(DirectiveStreamsTest, PushesMergeUntilReadAndAReaderThatFallsBehindIsClosed) {
  DirectiveStreams streams(/*max_pending=*/3);
  v1::WorkerDirective one;
  one.add_stop()->set_job("jobs/a");
  EXPECT_FALSE(streams.Push("workers/w", one));  // no stream: the heartbeat delivers
  auto stream = streams.Open("workers/w");
  EXPECT_TRUE(streams.Push("workers/w", one));
  EXPECT_TRUE(streams.Push("workers/w", one));
  v1::WorkerDirective out;
  ASSERT_EQ(streams.Next(*stream, absl::ZeroDuration(), &out), DirectiveStreams::Wait::kDirective);
  EXPECT_EQ(out.stop_size(), 2);
  EXPECT_EQ(streams.Next(*stream, absl::ZeroDuration(), &out), DirectiveStreams::Wait::kTimeout);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(streams.Push("workers/w", one));
  EXPECT_FALSE(streams.Push("workers/w", one));  // the fourth: closed
  EXPECT_EQ(streams.Next(*stream, absl::ZeroDuration(), &out), DirectiveStreams::Wait::kClosed);
}

// The incremental queue against a full rebuild: random submissions (sizes,
// priorities), cancellations and completions; before each pass the expected
// decision is computed by scheduler::Schedule from every job's public view
// (as the old pass rebuilt it), and the pass must place exactly that.
TEST_F(PlacementPushTest, TheIncrementalQueueDecidesAsAFullRebuildOnRandomSequences) {
  const std::map<std::string, int> gpus = {{"w0", 8}, {"w1", 8}, {"w2", 4}, {"w3", 2}};
  for (const auto& [id, n] : gpus) Register(id, n);
  std::mt19937_64 rng(20261204);
  std::vector<v1::Job> submitted;  // in submission order
  std::vector<absl::Time> submitted_at;
  int passes_with_placements = 0, reservations = 0;
  for (int step = 0; step < 400; ++step) {
    const int action = std::uniform_int_distribution<int>(0, 10)(rng);
    if (action == 10) {
      now_ += absl::Minutes(2);  // jobs waiting past reserve_after (5 min) reserve the cluster
    } else if (action < 5) {
      submitted_at.push_back(now_);
      const int sizes[] = {1, 1, 2, 3, 4, 8, 12};
      submitted.push_back(Submit(sizes[std::uniform_int_distribution<int>(0, 6)(rng)], 1,
                                 std::uniform_int_distribution<int>(0, 2)(rng)));
    } else if (action < 7 && !submitted.empty()) {
      const v1::Job& pick = submitted[std::uniform_int_distribution<size_t>(0, submitted.size() - 1)(rng)];
      const v1::Job now = *plane_->GetJob(pick.name());
      if (now.state() == v1::JOB_STATE_QUEUED) {
        ASSERT_TRUE(plane_->CancelJob(pick.name()).ok());
      }
    } else if (!submitted.empty()) {
      // A running job completes: every worker of its gang reports its ranks succeeded.
      for (const v1::Job& s : submitted) {
        const v1::Job job = *plane_->GetJob(s.name());
        if (job.state() != v1::JOB_STATE_RUNNING) continue;
        std::map<std::string, std::vector<v1::RankStatus>> by_worker;
        for (const auto& p : job.placements()) {
          by_worker[p.worker().substr(8)].push_back(Rank(job, p.rank(), v1::RANK_PHASE_SUCCEEDED));
        }
        for (const auto& [worker, ranks] : by_worker) ASSERT_TRUE(Beat(worker, ranks).ok());
        ASSERT_EQ(plane_->GetJob(s.name())->state(), v1::JOB_STATE_SUCCEEDED);
        // The next heartbeats no longer report them: their slots are confirmed free.
        for (const auto& [worker, ranks] : by_worker) ASSERT_TRUE(Beat(worker, {}).ok());
        break;
      }
    }
    // The full rebuild, from every job's public view.
    std::vector<scheduler::QueuedJob> queue;
    std::map<std::string, std::set<int32_t>> busy;
    for (size_t i = 0; i < submitted.size(); ++i) {
      const v1::Job job = *plane_->GetJob(submitted[i].name());
      if (job.state() == v1::JOB_STATE_RUNNING) {
        for (const auto& p : job.placements()) busy[p.worker()].insert(p.gpu_indices().begin(), p.gpu_indices().end());
      } else if (job.state() == v1::JOB_STATE_QUEUED) {
        scheduler::QueuedJob q;
        q.id = job.name();
        q.priority = job.spec().priority();
        q.order = static_cast<int64_t>(i);
        q.world_size = job.spec().resources().world_size();
        q.gpus_per_rank = job.spec().resources().gpus_per_rank();
        q.queued_since = submitted_at[i];
        queue.push_back(q);
      }
    }
    std::vector<scheduler::WorkerCapacity> capacity;
    for (const auto& [id, n] : gpus) {
      scheduler::WorkerCapacity c;
      c.id = "workers/" + id;
      for (int g = 0; g < n; ++g) {
        if (!busy[c.id].count(g)) c.free_gpus.push_back(g);
      }
      capacity.push_back(c);
    }
    const scheduler::Decision expected = scheduler::Schedule(queue, capacity, now_, scheduler::Options{});
    std::set<std::string> queued_before;
    for (const auto& q : queue) queued_before.insert(q.id);
    plane_->RunPlacementPass(absl::ZeroDuration());
    std::set<std::string> placed;
    for (const auto& q : queue) {
      if (plane_->GetJob(q.id)->state() == v1::JOB_STATE_RUNNING) placed.insert(q.id);
    }
    ASSERT_EQ(placed.size(), expected.placements.size()) << "step " << step;
    for (const scheduler::Placement& p : expected.placements) {
      const v1::Job job = *plane_->GetJob(p.job);
      ASSERT_EQ(job.state(), v1::JOB_STATE_RUNNING) << p.job << " at step " << step;
      ASSERT_EQ(job.placements_size(), static_cast<int>(p.ranks.size()));
      for (const scheduler::RankSlot& slot : p.ranks) {
        EXPECT_EQ(job.placements(slot.rank).worker(), slot.worker) << p.job;
        EXPECT_EQ(std::vector<int32_t>(job.placements(slot.rank).gpu_indices().begin(),
                                       job.placements(slot.rank).gpu_indices().end()),
                  slot.gpu_indices)
            << p.job;
      }
    }
    if (!expected.placements.empty()) ++passes_with_placements;
    if (!expected.reserved_for.empty()) ++reservations;
  }
  // The sequence exercised placement and reservations, not only an idle queue.
  EXPECT_GT(passes_with_placements, 20);
  EXPECT_GT(reservations, 20);
}

}  // namespace
}  // namespace tunefleet::coordinator
