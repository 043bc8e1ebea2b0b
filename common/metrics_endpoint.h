#pragma once
// What the two daemons share about Prometheus: building a scrape's metric
// families by hand (their series come from live state at scrape time), and
// serving /metrics on --metrics-listen with the bound port in a file.

#include <memory>
#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

namespace tunefleet {

using MetricLabels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily MetricFamilyOf(const std::string& name, const std::string& help,
                                        prometheus::MetricType type);

// One sample: the counter's or the gauge's value, as the family's type says.
void AddSample(prometheus::MetricFamily& family, MetricLabels labels, double value);

// Serves `collectable` at http://<listen>/metrics (port 0 picks one; throws
// if it cannot bind) and writes the bound port to `port_file` when one is
// named. Null, after logging as `program`, if the port file cannot be written.
std::unique_ptr<prometheus::Exposer> ServeMetrics(const std::string& listen, const std::string& port_file,
                                                  const std::shared_ptr<prometheus::Collectable>& collectable,
                                                  const std::string& program);

}  // namespace tunefleet
