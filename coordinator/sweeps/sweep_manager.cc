#include "coordinator/sweeps/sweep_manager.h"

#include <algorithm>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/sweep_grid.h"
#include "common/sweep_limits.h"
#include "coordinator/jobs/job_lifecycle.h"
#include "coordinator/sweeps/sweep_table.h"

namespace tunefleet::coordinator::sweeps {
namespace {

bool IsValidSweepId(const std::string& id) {
  if (id.empty() || static_cast<int64_t>(id.size()) > sweep_limits::kMaxSweepIdBytes) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string RandomSweepId() {
  // Seeded with 128 bits, as job ids are: handler threads come and go.
  static thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return absl::StrCat("sweep-", absl::Hex(rng() & 0xffffffffffULL, absl::kZeroPad10));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SweepManager>> SweepManager::Create(ControlPlane& plane,
                                                                   std::function<absl::Time()> clock) {
  std::vector<store::StoredSweep> stored;
  auto loaded = plane.WithStore([&stored](store::Store& store) {
    auto rows = store.LoadSweeps();
    if (!rows.ok()) return rows.status();
    stored = std::move(*rows);
    return absl::OkStatus();
  });
  if (!loaded.ok()) return loaded;
  std::unique_ptr<SweepManager> manager(new SweepManager(plane, std::move(clock)));
  absl::MutexLock lock(&manager->mu_);
  for (store::StoredSweep& row : stored) {
    const std::string name = row.sweep.name();
    // Cancelled ones too: a cancel cut short by the restart must not release its waiting members.
    plane.LimitGroup(name, row.sweep.max_concurrent());
    if (!row.request_id.empty()) manager->request_ids_[row.request_id] = name;
    manager->order_.push_back(name);
    manager->sweeps_.emplace(name, std::move(row.sweep));
  }
  return manager;
}

absl::StatusOr<v1::Sweep*> SweepManager::Find(const std::string& name) {
  auto it = sweeps_.find(name);
  if (it == sweeps_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return &it->second;
}

absl::StatusOr<v1::Sweep> SweepManager::View(const v1::Sweep& stored) {
  v1::Sweep sweep = stored;
  for (v1::SweepPoint& point : *sweep.mutable_points()) {
    auto job = plane_.GetJob(point.job());
    if (!job.ok()) return job.status();
    FillPoint(*job, point);
  }
  sweep.set_point_count(sweep.points_size());
  Summarize(sweep);
  return sweep;
}

absl::StatusOr<v1::Sweep> SweepManager::CreateSweep(const v1::CreateSweepRequest& request,
                                                    const std::string& owner) {
  absl::MutexLock lock(&mu_);
  if (!request.request_id().empty()) {
    if (auto seen = request_ids_.find(request.request_id()); seen != request_ids_.end()) {
      return View(sweeps_.at(seen->second));  // a retry: the same sweep
    }
  }
  if (!request.sweep_id().empty() && !IsValidSweepId(request.sweep_id())) {
    return absl::InvalidArgumentError(absl::StrCat("sweep_id: must match [a-z0-9-]{1,",
                                                   sweep_limits::kMaxSweepIdBytes, "}, got \"",
                                                   request.sweep_id().substr(0, 64), "\""));
  }
  if (request.max_concurrent() < 0 || request.max_concurrent() > sweep_limits::kMaxPoints) {
    return absl::InvalidArgumentError(absl::StrCat("max_concurrent: ", request.max_concurrent(),
                                                   " is not within 0 (no limit) and ", sweep_limits::kMaxPoints));
  }
  if (!v1::SweepObjective_IsValid(request.objective())) {
    return absl::InvalidArgumentError(absl::StrCat("objective: ", request.objective(), " is not an objective"));
  }
  auto points = ExpandSweepGrid(request.base(), request.axes());
  if (!points.ok()) return points.status();

  const std::string id = request.sweep_id().empty() ? RandomSweepId() : request.sweep_id();
  v1::Sweep sweep;
  sweep.set_name(absl::StrCat("sweeps/", id));
  if (sweeps_.count(sweep.name())) return absl::AlreadyExistsError(absl::StrCat(sweep.name(), " already exists"));
  *sweep.mutable_base() = request.base();
  *sweep.mutable_axes() = request.axes();
  sweep.set_max_concurrent(request.max_concurrent());
  sweep.set_objective(request.objective() == v1::SWEEP_OBJECTIVE_UNSPECIFIED ? v1::SWEEP_OBJECTIVE_MIN_EVAL_LOSS
                                                                             : request.objective());
  sweep.set_owner(owner);
  *sweep.mutable_create_time() = ToProtoTime(clock_());
  ControlPlane::JobGroup group;
  group.name = sweep.name();
  group.owner = owner;
  group.max_running = request.max_concurrent();
  for (size_t p = 0; p < points->size(); ++p) {
    const std::string job_id = absl::StrCat(id, "-", p);
    v1::SweepPoint* point = sweep.add_points();
    point->set_job(absl::StrCat("jobs/", job_id));
    for (const std::string& value : (*points)[p].values) point->add_values(value);
    group.members.emplace_back(job_id, std::move((*points)[p].spec));
  }
  const std::string& request_id = request.request_id();
  auto created = plane_.CreateJobGroup(group, [&sweep, &request_id](store::Store& store,
                                                                   const std::vector<store::NewJob>& members) {
    return store.InsertSweep(sweep, request_id, members);
  });
  if (!created.ok()) return created.status();
  if (!request_id.empty()) request_ids_[request_id] = sweep.name();
  order_.push_back(sweep.name());
  const v1::Sweep& kept = sweeps_.emplace(sweep.name(), std::move(sweep)).first->second;
  return View(kept);
}

absl::StatusOr<v1::Sweep> SweepManager::GetSweep(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto sweep = Find(name);
  if (!sweep.ok()) return sweep.status();
  return View(**sweep);
}

absl::StatusOr<std::string> SweepManager::OwnerOf(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto sweep = Find(name);
  if (!sweep.ok()) return sweep.status();
  return (*sweep)->owner();
}

absl::StatusOr<v1::ListSweepsResponse> SweepManager::ListSweeps(const v1::ListSweepsRequest& request) {
  const int32_t page_size = request.page_size() <= 0 ? 20 : std::min(request.page_size(), 100);
  int64_t skip = 0;
  if (!request.page_token().empty() && (!absl::SimpleAtoi(request.page_token(), &skip) || skip < 0)) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  absl::MutexLock lock(&mu_);
  v1::ListSweepsResponse response;
  const int64_t total = static_cast<int64_t>(order_.size());
  int64_t i = skip;
  for (; i < total && response.sweeps_size() < page_size; ++i) {
    auto view = View(sweeps_.at(order_[static_cast<size_t>(total - 1 - i)]));  // newest first
    if (!view.ok()) return view.status();
    view->clear_points();  // GetSweep has them; a page of 100 x 256 points would not fit a message
    *response.add_sweeps() = std::move(*view);
  }
  if (i < total) response.set_next_page_token(absl::StrCat(i));
  return response;
}

absl::StatusOr<v1::Sweep> SweepManager::CancelSweep(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto found = Find(name);
  if (!found.ok()) return found.status();
  v1::Sweep& sweep = **found;
  if (!sweep.cancel_requested()) {
    v1::Sweep next = sweep;
    next.set_cancel_requested(true);
    auto saved = plane_.WithStore([&next](store::Store& store) { return store.UpdateSweep(next); });
    if (!saved.ok()) {
      return absl::UnavailableError(absl::StrCat("the coordinator could not save the cancel of ", name,
                                                 " (nothing cancelled; retry): ", saved.message()));
    }
    sweep = std::move(next);
  }
  // Waiting members first: while a running one is being stopped, the next
  // waiting one would otherwise be released into its place.
  for (const bool waiting_pass : {true, false}) {
    for (const v1::SweepPoint& point : sweep.points()) {
      auto job = plane_.GetJob(point.job());
      if (!job.ok()) return job.status();
      if (jobs::IsTerminal(job->state()) || (job->state() == v1::JOB_STATE_QUEUED) != waiting_pass) continue;
      auto cancelled = plane_.CancelJob(point.job());
      // It may have ended meanwhile (FAILED_PRECONDITION): nothing to do.
      if (!cancelled.ok() && cancelled.status().code() != absl::StatusCode::kFailedPrecondition) {
        return cancelled.status();
      }
    }
  }
  return View(sweep);
}

}  // namespace tunefleet::coordinator::sweeps
