// The coordinator binary and its database: one writer (a second coordinator
// on the same database exits 69 naming the first), and a file that is not a
// tunefleet database (zero-length, foreign) refused with exit 65 unless --init.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/exit_codes.h"
#include "tests/testing/child_process.h"

namespace tunefleet::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kCoordinator = std::string(TUNEFLEET_BINARY_DIR) + "/coordinator/tunefleet-coordinator";

std::vector<std::string> CoordinatorArgs(const std::string& dir, const std::string& name) {
  // Plaintext on loopback: these tests are about the database, not TLS.
  return {kCoordinator, "--listen", "127.0.0.1:0", "--insecure", "--database", dir + "/state.db", "--port-file",
          dir + "/" + name + ".port"};
}

TEST(CoordinatorDatabase, ASecondCoordinatorOnTheSameDatabaseExits69NamingTheFirst) {
  const std::string dir = FreshTestDirectory();
  ChildProcess first = ChildProcess::Start(CoordinatorArgs(dir, "first"));
  ASSERT_TRUE(first.WaitForOutput("listening on", 20s)) << first.output();

  RunResult second = RunCommand(CoordinatorArgs(dir, "second"), 20s);
  EXPECT_EQ(second.exit_code, exit_codes::kDatabaseInUse) << second.output;
  EXPECT_THAT(second.output, HasSubstr("in use by another coordinator"));
  EXPECT_THAT(second.output, HasSubstr("pid " + std::to_string(first.pid())));
  EXPECT_FALSE(std::filesystem::exists(dir + "/second.port")) << "the second one must not serve";

  // kill -9 leaves no stale lock: the kernel drops it with the process.
  first.Signal(SIGKILL);
  ASSERT_TRUE(first.Wait(10s).has_value());
  ChildProcess third = ChildProcess::Start(CoordinatorArgs(dir, "third"));
  EXPECT_TRUE(third.WaitForOutput("listening on", 20s)) << third.output();
}

TEST(CoordinatorDatabase, AZeroLengthFileIsRefusedWithExit65UnlessInit) {
  const std::string dir = FreshTestDirectory();
  std::ofstream(dir + "/state.db").close();
  RunResult refused = RunCommand(CoordinatorArgs(dir, "refused"), 20s);
  EXPECT_EQ(refused.exit_code, exit_codes::kDatabaseRefused) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("--init"));

  std::vector<std::string> args = CoordinatorArgs(dir, "init");
  args.push_back("--init");
  ChildProcess init = ChildProcess::Start(args);
  EXPECT_TRUE(init.WaitForOutput("listening on", 20s)) << init.output();
}

TEST(CoordinatorDatabase, AForeignFileIsRefusedEvenWithInit) {
  const std::string dir = FreshTestDirectory();
  std::ofstream(dir + "/state.db") << "this is somebody's notes, not a database\n";
  std::vector<std::string> args = CoordinatorArgs(dir, "foreign");
  args.push_back("--init");
  RunResult refused = RunCommand(args, 20s);
  EXPECT_EQ(refused.exit_code, exit_codes::kDatabaseRefused) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("not a tunefleet database"));
}

}  // namespace
}  // namespace tunefleet::testing
