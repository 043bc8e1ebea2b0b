// The cluster PKI: certificates name who they were issued to, keys and tokens
// are private files, and a second `up` keeps the first one's cluster.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/security/cluster_pki.h"
#include "common/security/pki.h"
#include "common/security/secrets.h"

namespace tunefleet::security {
namespace {

std::string TempDir() {
  std::string pattern = ::testing::TempDir() + "/pki_XXXXXX";
  return mkdtemp(pattern.data());
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 0777;
}

TEST(Pki, LeafCertificateNamesItsHolderAndUnit) {
  auto ca = CreateAuthority("test CA");
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertificateRequest request;
  request.common_name = "node-7";
  request.unit = kWorkerUnit;
  request.dns_names = {"node-7"};
  auto leaf = IssueCertificate(*ca, request);
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  auto identity = ReadIdentity(leaf->certificate);
  ASSERT_TRUE(identity.ok()) << identity.status();
  EXPECT_EQ(identity->common_name, "node-7");
  EXPECT_EQ(identity->unit, "worker");
  EXPECT_NE(leaf->private_key.find("PRIVATE KEY"), std::string::npos);
}

TEST(Pki, GarbageIsNotACertificate) { EXPECT_FALSE(ReadIdentity("not a pem").ok()); }

TEST(Secrets, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Secrets, RandomHexIsFreshEachTime) {
  const std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

TEST(Secrets, AtomicWriteDoesNotFollowASymlinkAndSetsTheMode) {
  const std::string dir = TempDir();
  const std::string target = dir + "/elsewhere", path = dir + "/secret";
  std::filesystem::create_symlink(target, path);
  ASSERT_TRUE(WriteFileAtomically(path, "s3cret", 0600).ok());
  EXPECT_FALSE(std::filesystem::exists(target)) << "wrote through the planted symlink";
  EXPECT_FALSE(std::filesystem::is_symlink(path));
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(*ReadSmallFile(path), "s3cret");
}

TEST(ClusterPki, MakesEverythingOnceWithPrivateKeysAndTokens) {
  const std::string dir = TempDir() + "/pki";
  ASSERT_TRUE(EnsureClusterPki(dir).ok());
  ASSERT_TRUE(EnsureWorkerCertificate(dir, "w1").ok());
  EXPECT_EQ(Mode(dir), 0700u);
  for (const char* secret : {"/ca.key", "/coordinator.key", "/workers/w1.key", "/tokens", "/admin.token"}) {
    EXPECT_EQ(Mode(dir + secret), 0600u) << secret;
  }
  const std::string ca = *ReadSmallFile(dir + "/ca.pem"), token = *ReadSmallFile(AdminTokenPath(dir));
  // The tokens file holds the hash, never the token.
  const std::string tokens = *ReadSmallFile(TokensPath(dir));
  EXPECT_EQ(tokens.find(token.substr(0, 64)), std::string::npos);
  EXPECT_NE(tokens.find(Sha256Hex(token.substr(0, 64)) + " admin admin"), std::string::npos) << tokens;
  ASSERT_TRUE(EnsureClusterPki(dir).ok());
  EXPECT_EQ(*ReadSmallFile(dir + "/ca.pem"), ca) << "a second up replaced the CA";
  EXPECT_EQ(*ReadSmallFile(AdminTokenPath(dir)), token);
  auto worker = ReadIdentity(*ReadSmallFile(dir + "/workers/w1.pem"));
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ(worker->common_name, "w1");
  EXPECT_FALSE(EnsureWorkerCertificate(dir, kCoordinatorServerName).ok()) << "a worker may not be the coordinator";
}

}  // namespace
}  // namespace tunefleet::security
