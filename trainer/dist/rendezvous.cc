#include "trainer/dist/rendezvous.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "trainer/dist/process_group_collectives.h"

#ifdef TUNEFLEET_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace tunefleet {
namespace {

absl::StatusOr<int> EnvInt(const EnvLookup& env, const std::string& name, int fallback) {
  auto value = env(name);
  if (!value.has_value() || value->empty()) return fallback;
  int parsed = 0;
  if (!absl::SimpleAtoi(*value, &parsed)) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=", *value, " is not an integer"));
  }
  return parsed;
}

// A listening socket bound to host:port (rank 0's TCPStore takes it over).
absl::StatusOr<int> ListenOn(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::UnavailableError(absl::StrCat("rendezvous host ", host, ": ", gai_strerror(rc)));
  }
  const int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, 0);
  const int one = 1;
  const bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                  bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 128) == 0;
  const int error = errno;
  freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("rendezvous: cannot listen on ", host, ":", port, ": ", std::strerror(error)));
  }
  return fd;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

std::string ExceptionText(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

RendezvousEndpoint RendezvousEndpoint::Tcp(std::string host, int port) {
  RendezvousEndpoint endpoint;
  endpoint.kind = Kind::kTcp;
  endpoint.host = std::move(host);
  endpoint.port = port;
  return endpoint;
}

RendezvousEndpoint RendezvousEndpoint::File(std::string path) {
  RendezvousEndpoint endpoint;
  endpoint.kind = Kind::kFile;
  endpoint.path = std::move(path);
  return endpoint;
}

std::string RendezvousEndpoint::ToString() const {
  switch (kind) {
    case Kind::kTcp:
      return absl::StrCat("tcp://", host, ":", port);
    case Kind::kFile:
      return absl::StrCat("file://", path);
    case Kind::kNone:
      break;
  }
  return "(none)";
}

absl::StatusOr<RendezvousEndpoint> ParseRendezvousEndpoint(const std::string& text) {
  if (absl::StartsWith(text, "file://") && text.size() > 7) return RendezvousEndpoint::File(text.substr(7));
  if (absl::StartsWith(text, "tcp://")) {
    const std::string hostport = text.substr(6);
    const auto colon = hostport.rfind(':');
    int port = -1;
    if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(hostport.substr(colon + 1), &port) ||
        port < 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("rendezvous '", text, "' has no valid host and port"));
    }
    return RendezvousEndpoint::Tcp(hostport.substr(0, colon), port);
  }
  return absl::InvalidArgumentError(absl::StrCat("rendezvous '", text, "' must be tcp://HOST:PORT or file:///PATH"));
}

absl::StatusOr<RendezvousConfig> ResolveRendezvous(const LaunchFlags& flags, const EnvLookup& env) {
  RendezvousConfig config;
  auto env_rank = EnvInt(env, "RANK", -1);
  auto env_world = EnvInt(env, "WORLD_SIZE", -1);
  auto env_local = EnvInt(env, "LOCAL_RANK", -1);
  auto env_port = EnvInt(env, "MASTER_PORT", -1);
  for (const auto* s : {&env_rank, &env_world, &env_local, &env_port}) {
    if (!s->ok()) return s->status();
  }
  const auto master = env("MASTER_ADDR");
  if (!flags.rendezvous.empty()) {
    auto parsed = ParseRendezvousEndpoint(flags.rendezvous);
    if (!parsed.ok()) return parsed.status();
    config.endpoint = *std::move(parsed);
  } else if (master.has_value() && !master->empty()) {
    if (*env_port < 0 || *env_port > 65535) {
      return absl::InvalidArgumentError("MASTER_ADDR is set but MASTER_PORT is not a port");
    }
    config.endpoint = RendezvousEndpoint::Tcp(*master, *env_port);
  }
  config.secret = env("TUNEFLEET_RENDEZVOUS_SECRET").value_or("");
  config.rank = flags.rank >= 0 ? flags.rank : *env_rank;
  config.world_size = flags.world_size >= 0 ? flags.world_size : *env_world;
  config.local_rank = flags.local_rank >= 0 ? flags.local_rank : *env_local;
  if (!config.distributed()) {
    if (config.world_size > 1) {
      return absl::InvalidArgumentError(absl::StrCat("world size ", config.world_size,
                                                     " needs a rendezvous: --rendezvous tcp://HOST:PORT or "
                                                     "file:///PATH, or MASTER_ADDR and MASTER_PORT"));
    }
    return RendezvousConfig{};
  }
  if (config.world_size < 1) config.world_size = 1;
  if (config.rank < 0) {
    if (config.world_size > 1) return absl::InvalidArgumentError("a distributed run needs --rank or RANK");
    config.rank = 0;
  }
  if (config.rank >= config.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", config.rank, " is not below world size ",
                                                   config.world_size));
  }
  if (config.local_rank < 0) config.local_rank = 0;
  return config;
}

absl::StatusOr<std::unique_ptr<Collectives>> ConnectCollectives(const RendezvousConfig& config, bool cuda,
                                                                std::chrono::milliseconds timeout) {
  c10::intrusive_ptr<c10d::Store> store;
  std::string gloo_host;
  const RendezvousEndpoint& endpoint = config.endpoint;
  try {
    if (endpoint.kind == RendezvousEndpoint::Kind::kFile) {
      store = c10::make_intrusive<c10d::FileStore>(endpoint.path, config.world_size);
      store->setTimeout(timeout);
      gloo_host = "";  // ranks may be on several hosts sharing the file
    } else if (endpoint.kind == RendezvousEndpoint::Kind::kTcp) {
      c10d::TCPStoreOptions options;
      if (config.rank == 0) {
        // The store listens on the worker's cluster address only, not on
        // every interface as TCPStore would by itself.
        auto fd = ListenOn(endpoint.host, endpoint.port);
        if (!fd.ok()) return fd.status();
        options.masterListenFd = *fd;
      }
      options.port = static_cast<std::uint16_t>(endpoint.port);
      options.isServer = config.rank == 0;
      options.numWorkers = config.world_size;
      options.waitWorkers = true;
      options.timeout = timeout;
      store = c10::make_intrusive<c10d::TCPStore>(endpoint.host, options);
      gloo_host = IsLoopback(endpoint.host) ? "127.0.0.1" : "";
    } else {
      return absl::InvalidArgumentError("no rendezvous to connect to");
    }
    // A namespace of our own in a store a launcher may share.
    // With a secret, under it: its keys cannot be guessed by whoever reaches the port.
    store = c10::make_intrusive<c10d::PrefixStore>(
        config.secret.empty() ? std::string("tunefleet") : "tunefleet/" + config.secret, store);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", config.rank, ": rendezvous at ", endpoint.ToString(), " of ",
                                               config.world_size, " ranks failed within ", timeout.count() / 1000.0,
                                               " s: ", ExceptionText(e)));
  }
#ifdef TUNEFLEET_WITH_CUDA
  if (cuda) {
    // torchrun shows a rank every GPU of its node (LOCAL_RANK picks one); the
    // tunefleet worker shows it only its own (CUDA_VISIBLE_DEVICES), so the
    // index wraps to what this process can see.
    const int visible = static_cast<int>(c10::cuda::device_count());
    if (visible == 0) return absl::FailedPreconditionError("NCCL requested but this process sees no CUDA device");
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(config.local_rank % visible));
    return CreateNcclCollectives(store, config.rank, config.world_size, timeout);
  }
#else
  if (cuda) return absl::FailedPreconditionError("NCCL needs the CUDA build of tunefleet-trainer");
#endif
  return CreateGlooCollectives(store, config.rank, config.world_size, timeout, gloo_host);
}

}  // namespace tunefleet
