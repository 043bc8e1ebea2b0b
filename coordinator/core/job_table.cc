#include "coordinator/core/job_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "coordinator/core/resource_name.h"
#include "coordinator/jobs/job_lifecycle.h"

namespace tunefleet::coordinator {

JobEntry* JobTable::Find(const std::string& name) {
  auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : &it->second;
}

const JobEntry* JobTable::Find(const std::string& name) const {
  auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : &it->second;
}

absl::StatusOr<JobEntry*> JobTable::Get(const std::string& name) {
  if (auto s = CheckResourceName(name, "jobs"); !s.ok()) return s;
  JobEntry* entry = Find(name);
  if (entry == nullptr) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return entry;
}

JobEntry& JobTable::Add(JobEntry entry) {
  const std::string name = entry.job.name();
  if (const JobEntry* old = Find(name); old != nullptr && jobs::IsTerminal(old->job.state())) {
    ended_.erase(EndKeyOf(*old));
  }
  JobEntry& kept = jobs_.insert_or_assign(name, std::move(entry)).first->second;
  by_order_[kept.order] = name;
  if (!kept.request_id.empty()) by_request_id_[kept.request_id] = name;
  if (kept.job.state() == v1::JOB_STATE_QUEUED) queue_.emplace(QueueKeyOf(kept), &kept);
  if (jobs::IsTerminal(kept.job.state())) ended_.insert(EndKeyOf(kept));
  return kept;
}

bool JobTable::Set(JobEntry& entry, v1::Job next) {
  if (entry.job.state() == v1::JOB_STATE_QUEUED) queue_.erase(QueueKeyOf(entry));
  if (jobs::IsTerminal(entry.job.state())) ended_.erase(EndKeyOf(entry));
  entry.job = std::move(next);
  if (jobs::IsTerminal(entry.job.state())) ended_.insert(EndKeyOf(entry));
  if (entry.job.state() != v1::JOB_STATE_QUEUED) return false;
  queue_.emplace(QueueKeyOf(entry), &entry);
  return true;
}

const JobEntry* JobTable::ForRequest(const std::string& request_id) const {
  auto it = by_request_id_.find(request_id);
  return it == by_request_id_.end() ? nullptr : Find(it->second);
}

std::vector<std::string> JobTable::ForgetEndedBy(absl::Time cutoff) {
  std::vector<std::string> forgotten;
  // In end order: only the jobs that leave are visited (every tick asks).
  while (!ended_.empty() && ended_.begin()->first <= cutoff) {
    auto it = jobs_.find(ended_.begin()->second);
    ended_.erase(ended_.begin());
    const JobEntry& entry = it->second;
    by_order_.erase(entry.order);
    // A retry of its CreateJob after this is a new submission: the retention
    // is also the window in which a request_id deduplicates.
    if (!entry.request_id.empty()) by_request_id_.erase(entry.request_id);
    forgotten.push_back(it->first);
    ++forgotten_;
    jobs_.erase(it);
  }
  std::sort(forgotten.begin(), forgotten.end());  // by name, as before
  return forgotten;
}

v1::JobEvent JobTable::NextEvent(const JobEntry& entry, const v1::Job& job, const std::string& message,
                                 absl::Time now) {
  v1::JobEvent event;
  event.set_sequence(entry.last_event + 1);
  event.set_job(job.name());
  *event.mutable_time() = ToProtoTime(now);
  event.set_state(job.state());
  event.set_attempt(job.attempt());
  event.set_message(message);
  return event;
}

JobTable::EndKey JobTable::EndKeyOf(const JobEntry& entry) {
  return EndKey{FromProtoTime(entry.job.end_time()), entry.job.name()};
}

JobTable::QueueKey JobTable::QueueKeyOf(const JobEntry& entry) {
  return QueueKey{-entry.job.spec().priority(), entry.order, entry.job.name()};
}

}  // namespace tunefleet::coordinator
