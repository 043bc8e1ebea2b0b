// A 2 x 2 sweep of real fine-tuning jobs through the control plane:
// coordinator, two workers and tunefleet-trainer (libtorch, CPU), a few steps
// each on the bundled demo model; every point reports a validation loss and
// the sweep names the best one.

#include <grpcpp/channel.h>
#include <gtest/gtest.h>

#include "tests/control_plane/cluster.h"
#include "tests/control_plane/demo_job.h"
#include "tunefleet/v1/sweep_service.grpc.pb.h"

namespace tunefleet::testing {
namespace {

TEST(RealTrainerSweepE2e, TwoByTwoGridOfDemoJobsEndsWithEvalLossesAndABestPoint) {
  ClusterOptions options;
  options.trainer = TUNEFLEET_TRAINER_PATH;
  Cluster cluster(options);
  auto spec = DemoJobSpec(TUNEFLEET_DEMO_DATA_PATH, cluster.dir() + "/data",
                          {"hyperparameters.max_steps=2", "evaluation.interval_steps=2",
                           "checkpoint.directory=" + cluster.dir() + "/checkpoints"});
  ASSERT_TRUE(spec.ok()) << spec.status();
  cluster.StartCoordinator();
  cluster.StartWorker("w1", 1);
  cluster.StartWorker("w2", 1);

  v1::CreateSweepRequest request;
  *request.mutable_base() = *spec;
  request.set_sweep_id("demo");
  v1::SweepAxis* lr = request.add_axes();
  lr->set_path("hyperparameters.learning_rate");
  lr->add_values("1e-4");
  lr->add_values("2e-3");
  v1::SweepAxis* seed = request.add_axes();
  seed->set_path("hyperparameters.seed");
  seed->add_values("7");
  seed->add_values("8");
  auto sweeps = v1::SweepService::NewStub(cluster.channel());
  v1::Sweep sweep;
  {
    grpc::ClientContext context;
    const grpc::Status status = sweeps->CreateSweep(&context, request, &sweep);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_EQ(sweep.points_size(), 4);
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + 5s);
        v1::GetSweepRequest get;
        get.set_name("sweeps/demo");
        return sweeps->GetSweep(&context, get, &sweep).ok() && sweep.state() != v1::SWEEP_STATE_RUNNING;
      },
      std::chrono::minutes(3)))
      << sweep.DebugString();
  EXPECT_EQ(sweep.state(), v1::SWEEP_STATE_SUCCEEDED) << sweep.DebugString();
  double best = 0;
  for (const v1::SweepPoint& point : sweep.points()) {
    EXPECT_EQ(point.step(), 2) << point.job();
    EXPECT_TRUE(point.has_eval_loss()) << point.job();
    if (point.job() == sweep.best_job()) best = point.eval_loss();
  }
  ASSERT_FALSE(sweep.best_job().empty());
  for (const v1::SweepPoint& point : sweep.points()) EXPECT_LE(best, point.eval_loss()) << point.job();
}

}  // namespace
}  // namespace tunefleet::testing
