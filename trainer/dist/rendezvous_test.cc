#include "trainer/dist/rendezvous.h"

#include <gtest/gtest.h>

#include <map>

namespace tunefleet {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RendezvousTest, NothingAskedMeansOneProcess) {
  auto config = ResolveRendezvous(LaunchFlags{}, FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->distributed());
}

TEST(RendezvousTest, ReadsTorchrunEnvironment) {
  auto config = ResolveRendezvous(
      LaunchFlags{}, FakeEnv({{"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29511"}, {"RANK", "2"},
                              {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "0"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.kind, RendezvousEndpoint::Kind::kTcp);
  EXPECT_EQ(config->endpoint.host, "10.0.0.7");
  EXPECT_EQ(config->endpoint.port, 29511);
  EXPECT_EQ(config->rank, 2);
  EXPECT_EQ(config->world_size, 4);
  EXPECT_EQ(config->local_rank, 0);
}

TEST(RendezvousTest, TakesThePerAttemptSecretFromTheEnvironment) {
  auto config = ResolveRendezvous(
      LaunchFlags{}, FakeEnv({{"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29511"}, {"RANK", "1"},
                              {"WORLD_SIZE", "2"}, {"TUNEFLEET_RENDEZVOUS_SECRET", "c0ffee"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->secret, "c0ffee");
}

TEST(RendezvousTest, FlagsWinOverEnvironment) {
  LaunchFlags flags;
  flags.rendezvous = "file:///tmp/x";
  flags.rank = 1;
  flags.world_size = 2;
  auto config = ResolveRendezvous(flags, FakeEnv({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}, {"RANK", "0"},
                                                  {"WORLD_SIZE", "8"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->endpoint.kind, RendezvousEndpoint::Kind::kFile);
  EXPECT_EQ(config->endpoint.path, "/tmp/x");
  EXPECT_EQ(config->rank, 1);
  EXPECT_EQ(config->world_size, 2);
}

TEST(RendezvousTest, ErrorsNameWhatIsMissing) {
  LaunchFlags no_address;
  no_address.world_size = 2;
  no_address.rank = 0;
  auto a = ResolveRendezvous(no_address, FakeEnv({}));
  EXPECT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("needs a rendezvous"), std::string::npos) << a.status();

  auto b = ResolveRendezvous(LaunchFlags{}, FakeEnv({{"MASTER_ADDR", "h"}}));
  EXPECT_NE(b.status().message().find("MASTER_PORT"), std::string::npos) << b.status();

  LaunchFlags bad_rank{"tcp://h:1", 3, 2, -1};
  auto c = ResolveRendezvous(bad_rank, FakeEnv({}));
  EXPECT_NE(c.status().message().find("rank 3 is not below world size 2"), std::string::npos) << c.status();

  LaunchFlags bad_url{"http://h:1", 0, 1, -1};
  EXPECT_FALSE(ResolveRendezvous(bad_url, FakeEnv({})).ok());

  auto d = ResolveRendezvous(LaunchFlags{}, FakeEnv({{"RANK", "x"}}));
  EXPECT_NE(d.status().message().find("RANK=x"), std::string::npos) << d.status();
}

TEST(RendezvousTest, ParsesTcpAndFileEndpoints) {
  auto tcp = ParseRendezvousEndpoint("tcp://10.0.0.7:29500");
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->host, "10.0.0.7");
  EXPECT_EQ(tcp->port, 29500);
  EXPECT_EQ(tcp->ToString(), "tcp://10.0.0.7:29500");
  auto file = ParseRendezvousEndpoint("file:///shared/rdzv");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path, "/shared/rdzv");
  for (const char* bad : {"tcp://h", "tcp://:1", "tcp://h:70000", "tcp://h:x", "file://", "h:1"}) {
    EXPECT_FALSE(ParseRendezvousEndpoint(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tunefleet
