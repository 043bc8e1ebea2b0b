#pragma once
// A plain HTTP/1.0 GET from a server on 127.0.0.1: how tests and benchmarks
// read a daemon's /metrics without an HTTP client library.

#include <string>

namespace tunefleet::testing {

// The whole response (status line, headers and body); empty when nothing
// answers on `port`.
std::string HttpGetLocal(int port, const std::string& path = "/metrics");

}  // namespace tunefleet::testing
