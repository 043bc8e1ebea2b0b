#pragma once
// A network namespace of its own for a process under test, joined to the
// test's (root) namespace by a veth pair on a /30 of its own: the root end
// is `outside_address`, the namespace's end `inside_address`, with a default
// route back through the root end. Made without `ip netns` (which needs a
// mount namespace trick that fails in a chroot without /sys): a holder
// process is started in a new namespace with `unshare --net`, the veth's
// inner end is moved into it by pid, and commands enter it with nsenter.
// Needs root (CAP_NET_ADMIN). Everything (links, holder) goes with the object.

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/testing/child_process.h"

namespace tunefleet::testing {

class NetworkNamespace {
 public:
  // `index` picks this namespace's /30 within a subnet chosen at random per
  // test process (10.<100-227>.<0-255>.<4*index>), so concurrent tests do not
  // collide; interface names carry a random tag for the same reason.
  static absl::StatusOr<std::unique_ptr<NetworkNamespace>> Create(int index);
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& outside_address() const { return outside_address_; }
  const std::string& inside_address() const { return inside_address_; }
  // Prepended to a command to run it inside: nsenter --net=/proc/<pid>/ns/net.
  std::vector<std::string> Enter() const;
  // Cuts the link (the root end goes down) / restores it.
  absl::Status Partition();
  absl::Status Heal();

 private:
  NetworkNamespace() = default;

  std::optional<ChildProcess> holder_;
  std::string outside_link_;
  std::string outside_address_;
  std::string inside_address_;
};

}  // namespace tunefleet::testing
