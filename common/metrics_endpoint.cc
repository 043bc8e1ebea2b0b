#include "common/metrics_endpoint.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/port_file.h"

namespace tunefleet {

prometheus::MetricFamily MetricFamilyOf(const std::string& name, const std::string& help,
                                        prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily& family, MetricLabels labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

std::unique_ptr<prometheus::Exposer> ServeMetrics(const std::string& listen, const std::string& port_file,
                                                  const std::shared_ptr<prometheus::Collectable>& collectable,
                                                  const std::string& program) {
  auto exposer = std::make_unique<prometheus::Exposer>(listen);
  exposer->RegisterCollectable(collectable);
  const int port = exposer->GetListeningPorts().at(0);
  if (!port_file.empty() && !WritePortFile(port_file, port)) {
    Log(program, absl::StrCat("ERROR: cannot write --metrics-port-file ", port_file));
    return nullptr;
  }
  Log(program, absl::StrCat("metrics on ", listen.substr(0, listen.rfind(':')), ":", port, "/metrics"));
  return exposer;
}

}  // namespace tunefleet
