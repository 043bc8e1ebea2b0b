#pragma once
// Runs N ranks as threads of one test process, each with its own Gloo
// process group meeting at a fresh FileStore: no ports, no timing luck.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "trainer/dist/rendezvous.h"

namespace tunefleet::testing {

inline std::string FreshStorePath() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dir = std::filesystem::temp_directory_path().string() + "/tunefleet_dist_test_" +
                          std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::string name = info->name();
  for (char& ch : name) ch = ch == '/' ? '_' : ch;  // parameterized names hold '/'
  return dir + "/" + name + "_" + std::to_string(counter++);
}

// Calls body(rank, collectives) on `world` threads and joins them.
inline void RunRanks(int world, const std::function<void(int, Collectives&)>& body,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const RendezvousEndpoint store = RendezvousEndpoint::File(FreshStorePath());
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      RendezvousConfig config{store, r, world, /*local_rank=*/0, /*secret=*/""};
      auto collectives = ConnectCollectives(config, /*cuda=*/false, timeout);
      ASSERT_TRUE(collectives.ok()) << collectives.status();
      body(r, **collectives);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace tunefleet::testing
