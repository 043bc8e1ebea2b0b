#pragma once
// Where and how the ranks of a job meet: from the trainer's flags, else from
// torchrun's environment (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE,
// LOCAL_RANK). Addresses are "tcp://host:port" (a c10d TCPStore served by
// rank 0) or "file:///path" (a c10d FileStore on storage every rank sees;
// tests use it because it needs no port at all).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/dist/collectives.h"

namespace tunefleet {

struct LaunchFlags {
  std::string rendezvous;  // --rendezvous tcp://HOST:PORT or file:///PATH; empty: from the environment, if any
  int rank = -1;           // -1: unset
  int world_size = -1;
  int local_rank = -1;
};

// Where the ranks meet, parsed once from the flag or the environment.
struct RendezvousEndpoint {
  enum class Kind { kNone, kTcp, kFile };
  Kind kind = Kind::kNone;  // kNone: not distributed
  std::string host;         // kTcp: rank 0 serves a TCPStore on host:port
  int port = 0;
  std::string path;         // kFile: a FileStore at this path

  static RendezvousEndpoint Tcp(std::string host, int port);
  static RendezvousEndpoint File(std::string path);
  // "tcp://host:port" or "file:///path", for messages.
  std::string ToString() const;
};

// "tcp://HOST:PORT" (port 0-65535) or "file:///PATH"; anything else is
// INVALID_ARGUMENT naming the text.
absl::StatusOr<RendezvousEndpoint> ParseRendezvousEndpoint(const std::string& text);

struct RendezvousConfig {
  RendezvousEndpoint endpoint;  // kind kNone: not distributed
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  // TUNEFLEET_RENDEZVOUS_SECRET: the ranks' keys live under it in the store,
  // so a stranger who connects cannot join or read them (empty: no secret).
  std::string secret;

  bool distributed() const { return endpoint.kind != RendezvousEndpoint::Kind::kNone; }
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> ProcessEnv(const std::string& name);

// Flags win over the environment (MASTER_ADDR and MASTER_PORT, as torchrun
// and the tunefleet worker set them). Returns a config that is not
// distributed() when neither asks for a distributed run.
absl::StatusOr<RendezvousConfig> ResolveRendezvous(const LaunchFlags& flags, const EnvLookup& env = ProcessEnv);

// Meets the other ranks and returns the collectives over them: NCCL when
// `cuda` (the CUDA build only), else Gloo. Every collective, and the
// rendezvous itself, fails after `timeout` instead of hanging.
absl::StatusOr<std::unique_ptr<Collectives>> ConnectCollectives(const RendezvousConfig& config, bool cuda,
                                                                std::chrono::milliseconds timeout);

}  // namespace tunefleet
