// Jobs submitted as a group (a sweep's points): admitted all or none, saved
// with the group's row in one transaction, and run at most max_running at once.

#include "absl/strings/str_cat.h"
#include "common/job_spec_defaults.h"
#include "common/job_spec_paths.h"
#include "common/job_spec_validation.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "coordinator/core/control_plane.h"

namespace tunefleet::coordinator {

absl::StatusOr<std::vector<v1::Job>> ControlPlane::CreateJobGroup(const JobGroup& group, const GroupInsert& insert) {
  if (group.members.empty()) return absl::InvalidArgumentError("a job group needs at least one job");
  std::vector<v1::JobSpec> specs;
  for (const auto& [id, spec] : group.members) {
    v1::JobSpec full = WithDefaults(spec);
    if (auto s = ValidateJobSpec(full); !s.ok()) return absl::Status(s.code(), absl::StrCat("jobs/", id, ": ", s.message()));
    if (auto s = CheckPathsUnderRoots(full, options_.allowed_path_roots); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("jobs/", id, ": ", s.message()));
    }
    specs.push_back(std::move(full));
  }

  absl::MutexLock lock(&mu_);
  std::map<int32_t, GangRoom> rooms;
  for (const v1::JobSpec& spec : specs) {
    if (auto s = CheckGangFits(spec, &rooms); !s.ok()) return s;
  }
  // The owner's quota counts every member: they are all QUEUED from now on.
  if (options_.max_active_jobs_per_user > 0) {
    int64_t active = 0;
    for (const auto& [name, entry] : jobs_) {
      if (!jobs::IsTerminal(entry.job.state()) && entry.job.owner() == group.owner) ++active;
    }
    const int64_t wanted = static_cast<int64_t>(specs.size());
    if (active + wanted > options_.max_active_jobs_per_user) {
      return absl::ResourceExhaustedError(absl::StrCat(
          group.owner.empty() ? "anonymous" : group.owner, " has ", active, " jobs queued or running and asks for ",
          wanted, " more; the quota is ", options_.max_active_jobs_per_user,
          " per user (--max-active-jobs-per-user)"));
    }
  }
  std::vector<store::NewJob> rows;
  std::vector<JobEntry> entries;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string name = absl::StrCat("jobs/", group.members[i].first);
    if (jobs_.Find(name) != nullptr || store_->LoadJob(name).ok()) {
      return absl::AlreadyExistsError(absl::StrCat(name, " already exists"));
    }
    JobEntry entry;
    entry.job.set_name(name);
    *entry.job.mutable_spec() = specs[i];
    entry.job.set_state(v1::JOB_STATE_QUEUED);
    entry.job.set_attempt(1);
    entry.job.set_owner(group.owner);
    entry.job.set_sweep(group.name);
    *entry.job.mutable_create_time() = ToProtoTime(Now());
    entry.queued_since = Now();
    v1::JobEvent event;  // built by hand, as CreateJob does: not in jobs_ until durable
    event.set_sequence(1);
    event.set_job(name);
    *event.mutable_time() = entry.job.create_time();
    event.set_state(v1::JOB_STATE_QUEUED);
    event.set_attempt(1);
    event.set_message(absl::StrCat("submitted with ", group.name, ": ", specs[i].resources().world_size(),
                                   " rank(s), priority ", specs[i].priority()));
    rows.push_back(store::NewJob{entry.job, "", {event}});
    entries.push_back(std::move(entry));
  }
  auto orders = insert(*store_, rows);
  if (!orders.ok()) {
    if (orders.status().code() == absl::StatusCode::kAlreadyExists) return orders.status();
    Log("coordinator", absl::StrCat("ERROR persisting ", group.name, " and its ", rows.size(),
                                    " job(s) (none accepted): ", orders.status().ToString()));
    return absl::UnavailableError(absl::StrCat("the coordinator could not save ", group.name,
                                               " (not accepted; retry): ", orders.status().message()));
  }
  if (orders->size() != entries.size()) return absl::InternalError("the store returned a wrong number of orders");
  std::vector<v1::Job> created;
  for (size_t i = 0; i < entries.size(); ++i) {
    JobEntry& entry = entries[i];
    entry.order = (*orders)[i];
    entry.last_event = 1;
    created.push_back(entry.job);
    jobs_.Add(std::move(entry));
  }
  if (group.max_running > 0) placement_.LimitGroup(group.name, group.max_running);
  placement_.Want();
  events_changed_.SignalAll();
  return created;
}

absl::Status ControlPlane::WithStore(const std::function<absl::Status(store::Store&)>& use) {
  absl::MutexLock lock(&mu_);
  return use(*store_);
}

void ControlPlane::LimitGroup(const std::string& group, int32_t max_running) {
  absl::MutexLock lock(&mu_);
  placement_.LimitGroup(group, max_running);
}

}  // namespace tunefleet::coordinator
