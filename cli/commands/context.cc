#include "cli/commands/context.h"

#include <iostream>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tunefleet::cli {

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int ReportError(const absl::Status& status) {
  std::cerr << "tunefleet: " << absl::StatusCodeToString(status.code()) << ": " << status.message() << std::endl;
  return kExitError;
}

std::string JobName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "jobs/") ? id_or_name : "jobs/" + id_or_name;
}

std::string WorkerName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "workers/") ? id_or_name : "workers/" + id_or_name;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const GlobalOptions& options) {
  std::unique_ptr<Connection> connection(new Connection(options));
  connection->channel_ = grpc::CreateChannel(options.coordinator, grpc::InsecureChannelCredentials());
  // Connect up front: a wrong address fails here, fast and naming the address,
  // instead of as a per-call timeout deep inside a verb (or never, for streams).
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_s * 1000));
  // A refused connection shows as TRANSIENT_FAILURE at once: fail then rather
  // than retrying until the deadline.
  bool connected = false;
  for (grpc_connectivity_state state = connection->channel_->GetState(/*try_to_connect=*/true);;) {
    if (state == GRPC_CHANNEL_READY) {
      connected = true;
      break;
    }
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) break;
    if (!connection->channel_->WaitForStateChange(state, deadline)) break;  // deadline
    state = connection->channel_->GetState(/*try_to_connect=*/true);
  }
  if (!connected) {
    return absl::UnavailableError(absl::StrCat("cannot reach the coordinator at ", options.coordinator,
                                               " (set --coordinator or TUNEFLEET_COORDINATOR; is it running?)"));
  }
  connection->jobs_ = v1::JobService::NewStub(connection->channel_);
  connection->admin_ = v1::AdminService::NewStub(connection->channel_);
  return connection;
}

std::unique_ptr<grpc::ClientContext> Connection::UnaryContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options_.rpc_timeout_s * 1000)));
  return context;
}

}  // namespace tunefleet::cli
