#pragma once
// The coordinator's Prometheus metrics. Gauges and counters are built at
// scrape time from ControlPlane::Stats(), so a finished job's series vanish
// by themselves (bounded labels); the two histograms live in a registry and
// are fed by the control plane's hook and the main loop.

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "coordinator/core/control_plane.h"

namespace tunefleet::coordinator {

class CoordinatorMetrics final : public prometheus::Collectable {
 public:
  CoordinatorMetrics();
  // Set once, before the first scrape.
  void Attach(const ControlPlane* plane) { plane_ = plane; }
  void ObserveQueueWait(absl::Duration wait) { queue_wait_->Observe(absl::ToDoubleSeconds(wait)); }
  void ObserveSchedulingPass(absl::Duration pass) { pass_->Observe(absl::ToDoubleSeconds(pass)); }
  void ObservePlacementPass(absl::Duration pass) { placement_pass_->Observe(absl::ToDoubleSeconds(pass)); }
  // Thread-safe (gRPC's threads); `method` as RpcMethodLabel gives it.
  void ObserveRpc(const std::string& method, grpc::StatusCode code, absl::Duration duration);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ControlPlane* plane_ = nullptr;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram* queue_wait_;
  prometheus::Histogram* pass_;
  prometheus::Histogram* placement_pass_;
  prometheus::Family<prometheus::Counter>* rpcs_;
  prometheus::Family<prometheus::Histogram>* rpc_seconds_;
};

}  // namespace tunefleet::coordinator
