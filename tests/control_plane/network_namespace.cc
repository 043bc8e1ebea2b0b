#include "tests/control_plane/network_namespace.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tunefleet::testing {
namespace {

using namespace std::chrono_literals;

// One random subnet and tag per test process.
struct Site {
  int a = 0, b = 0;
  std::string tag;
};

const Site& ThisProcessSite() {
  static const Site site = [] {
    std::random_device device;
    std::mt19937 random(device() ^ static_cast<unsigned>(getpid()));
    Site s;
    s.a = 100 + static_cast<int>(random() % 128);
    s.b = static_cast<int>(random() % 256);
    s.tag = absl::StrFormat("%06x", random() & 0xffffff);
    return s;
  }();
  return site;
}

std::string Which(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

absl::Status Run(const std::vector<std::string>& argv) {
  const RunResult result = RunCommand(argv, 20s);
  if (result.exit_code == 0) return absl::OkStatus();
  std::string command;
  for (const std::string& arg : argv) absl::StrAppend(&command, command.empty() ? "" : " ", arg);
  return absl::FailedPreconditionError(
      absl::StrCat("`", command, "` exited ", result.exit_code, ": ", result.output));
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetworkNamespace>> NetworkNamespace::Create(int index) {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError("network namespaces need root (CAP_NET_ADMIN); this test runs as root in CI");
  }
  const std::string ip = Which("ip"), unshare = Which("unshare"), sleep = Which("sleep");
  if (ip.empty() || unshare.empty() || Which("nsenter").empty()) {
    return absl::FailedPreconditionError(
        "the netns test needs `ip` (iproute2), `unshare` and `nsenter` (util-linux): see scripts/install_deps.sh");
  }
  if (index < 0 || index > 63) return absl::InvalidArgumentError("index: 0..63");
  const Site& site = ThisProcessSite();
  std::unique_ptr<NetworkNamespace> ns(new NetworkNamespace());
  // Bounded, past the test's CTest timeout: a test killed outright leaves
  // no namespace behind for long (the veth pair goes with the namespace).
  ns->holder_.emplace(ChildProcess::Start({unshare, "--net", "--", sleep, "600"}));
  const std::string net = absl::StrCat("/proc/", ns->holder_->pid(), "/ns/net");
  // The holder is in its namespace once its net link differs from ours.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::error_code ec;
  while (std::filesystem::read_symlink(net, ec) == std::filesystem::read_symlink("/proc/self/ns/net")) {
    if (std::chrono::steady_clock::now() > deadline || ns->holder_->Wait(0ms).has_value()) {
      return absl::FailedPreconditionError(
          absl::StrCat("`unshare --net` did not make a network namespace: ", ns->holder_->output()));
    }
    std::this_thread::sleep_for(10ms);
  }
  const std::string inside_link = absl::StrCat("tf", site.tag, "i", index);
  ns->outside_link_ = absl::StrCat("tf", site.tag, "o", index);
  ns->outside_address_ = absl::StrCat("10.", site.a, ".", site.b, ".", 4 * index + 1);
  ns->inside_address_ = absl::StrCat("10.", site.a, ".", site.b, ".", 4 * index + 2);
  const std::string pid = absl::StrCat(ns->holder_->pid());
  const std::vector<std::string> inside = {Which("nsenter"), "--net=" + net, "--", ip};
  auto in = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = inside;
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  for (const std::vector<std::string>& step : std::vector<std::vector<std::string>>{
           {ip, "link", "add", ns->outside_link_, "type", "veth", "peer", "name", inside_link},
           {ip, "link", "set", inside_link, "netns", pid},
           {ip, "addr", "add", ns->outside_address_ + "/30", "dev", ns->outside_link_},
           {ip, "link", "set", ns->outside_link_, "up"},
           in({"link", "set", "lo", "up"}),
           in({"addr", "add", ns->inside_address_ + "/30", "dev", inside_link}),
           in({"link", "set", inside_link, "up"}),
           in({"route", "add", "default", "via", ns->outside_address_})}) {
    if (absl::Status s = Run(step); !s.ok()) return s;  // the destructor undoes what was made
  }
  return ns;
}

NetworkNamespace::~NetworkNamespace() {
  // Deleting one end deletes the pair; the holder's end goes with its
  // namespace anyway when the holder dies (ChildProcess kills it).
  if (!outside_link_.empty()) (void)RunCommand({Which("ip"), "link", "del", outside_link_}, 10s);
}

std::vector<std::string> NetworkNamespace::Enter() const {
  return {Which("nsenter"), absl::StrCat("--net=/proc/", holder_->pid(), "/ns/net"), "--"};
}

absl::Status NetworkNamespace::Partition() { return Run({Which("ip"), "link", "set", outside_link_, "down"}); }

absl::Status NetworkNamespace::Heal() { return Run({Which("ip"), "link", "set", outside_link_, "up"}); }

}  // namespace tunefleet::testing
