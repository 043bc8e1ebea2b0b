#include "coordinator/service/stream_quota.h"

#include "absl/strings/str_cat.h"

namespace tunefleet::coordinator {

StreamQuota::Lease::~Lease() {
  if (quota_ != nullptr) quota_->Release(caller_);
}

absl::StatusOr<StreamQuota::Lease> StreamQuota::Acquire(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  if (total_ >= limits_.total) {
    return absl::ResourceExhaustedError(absl::StrCat("the coordinator serves at most ", limits_.total,
                                                     " streams at once (--max-streams); try again later"));
  }
  int& mine = by_caller_[caller];
  if (mine >= limits_.per_caller) {
    return absl::ResourceExhaustedError(absl::StrCat(caller, " has ", mine, " streams open; the limit is ",
                                                     limits_.per_caller, " per user (--max-streams-per-user)"));
  }
  ++mine;
  ++total_;
  return Lease(this, caller);
}

void StreamQuota::Release(const std::string& caller) {
  absl::MutexLock lock(&mu_);
  auto it = by_caller_.find(caller);
  if (it != by_caller_.end() && --it->second <= 0) by_caller_.erase(it);
  --total_;
}

int StreamQuota::open() const {
  absl::MutexLock lock(&mu_);
  return total_;
}

}  // namespace tunefleet::coordinator
