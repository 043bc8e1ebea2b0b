#include "common/security/secrets.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs/atomic_file.h"

namespace tunefleet::security {

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t got = getrandom(raw.data() + filled, bytes - filled, 0);
    if (got > 0) filled += static_cast<size_t>(got);
    // EINTR: try again. getrandom blocks only until the pool is seeded at boot.
  }
  return absl::BytesToHexString(raw);
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content, unsigned mode) {
  // The one atomic writer (common/fs/atomic_file.h): a random
  // O_CREAT|O_EXCL|O_NOFOLLOW temporary created with `mode` (never wider,
  // not even for a moment), fsync, rename, fsync of the folder.
  return tunefleet::WriteFileAtomically(path, std::string(content), static_cast<mode_t>(mode));
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace tunefleet::security
