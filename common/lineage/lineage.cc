#include "common/lineage/lineage.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "common/fs/unique_fd.h"
#include "common/job_spec_file.h"
#include "common/version.h"

namespace tunefleet {
namespace {

std::string Hex(const unsigned char* bytes, unsigned length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

struct DigestFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

absl::StatusOr<ContentHash> HashFd(int fd, const std::string& role, const std::string& path) {
  std::unique_ptr<EVP_MD_CTX, DigestFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 could not start (OpenSSL)");
  }
  ContentHash hash{role, path, 0, ""};
  std::vector<unsigned char> buffer(1 << 20);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::DataLossError(absl::StrCat("reading ", path, " to hash it: ", std::strerror(errno)));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
    hash.size_bytes += static_cast<uint64_t>(n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) return absl::InternalError("SHA-256 failed (OpenSSL)");
  hash.sha256 = Hex(digest, length);
  return hash;
}

std::string Sha256OfText(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return Hex(digest, length);
}

// Every non-hidden file directly in the folder, by name.
absl::StatusOr<std::vector<ContentHash>> HashFolder(const std::string& role, const std::string& folder,
                                                    const UniqueFd& dir) {
  const int listing_fd = ::dup(dir.get());
  DIR* listing = listing_fd < 0 ? nullptr : ::fdopendir(listing_fd);
  if (listing == nullptr) {
    if (listing_fd >= 0) ::close(listing_fd);
    return absl::InternalError(absl::StrCat("listing ", folder, ": ", std::strerror(errno)));
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(listing)) {
    if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
  }
  ::closedir(listing);
  std::sort(names.begin(), names.end());
  std::vector<ContentHash> hashes;
  for (const std::string& name : names) {
    // Sub-folders are not read by the trainer; every file is, through the
    // path policy (a Hugging Face cache links its files to blobs), so each
    // is opened the same way here and an unreadable one is an error.
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, 0) == 0 && S_ISDIR(st.st_mode)) continue;
    auto hash = HashUserFile(role, absl::StrCat(folder, "/", name));
    if (!hash.ok()) return hash.status();
    hashes.push_back(*std::move(hash));
  }
  if (hashes.empty()) return absl::NotFoundError(absl::StrCat("model folder ", folder, " holds no files to hash"));
  return hashes;
}

}  // namespace

absl::StatusOr<ContentHash> HashUserFile(const std::string& role, const std::string& path) {
  auto fd = OpenUserFile(path);
  if (!fd.ok()) return fd.status();
  return HashFd(fd->get(), role, path);
}

absl::StatusOr<Lineage> ComputeLineage(const v1::JobSpec& spec) {
  Lineage lineage;
  lineage.tunefleet_version = TUNEFLEET_VERSION;
  lineage.spec_sha256 = Sha256OfText(JobSpecToJson(spec));
  const std::string& model = spec.model().path();
  if (!model.empty()) {
    auto opened = InstalledPathPolicy()->OpenFileOrDirectory("model.path", model);
    if (!opened.ok()) return opened.status();
    struct stat st {};
    if (::fstat(opened->get(), &st) != 0) return absl::InternalError(absl::StrCat("stat ", model, ": ", std::strerror(errno)));
    if (S_ISDIR(st.st_mode)) {
      auto files = HashFolder("model", model, *opened);
      if (!files.ok()) return files.status();
      lineage.inputs = *std::move(files);
    } else {
      auto file = HashFd(opened->get(), "model", model);
      if (!file.ok()) return file.status();
      lineage.inputs.push_back(*std::move(file));
    }
  }
  std::vector<std::pair<std::string, std::string>> data_files = {{"dataset", spec.dataset().path()},
                                                                 {"validation", spec.dataset().validation_path()},
                                                                 {"evaluation", spec.evaluation().after_training().data_path()}};
  for (const v1::DatasetTask& task : spec.dataset().tasks()) {
    data_files.emplace_back(absl::StrCat("dataset/", task.name()), task.path());
    data_files.emplace_back(absl::StrCat("validation/", task.name()), task.validation_path());
  }
  for (const auto& [role, path] : data_files) {
    if (path.empty()) continue;
    auto file = HashUserFile(role, path);
    if (!file.ok()) return file.status();
    lineage.inputs.push_back(*std::move(file));
  }
  return lineage;
}

}  // namespace tunefleet
