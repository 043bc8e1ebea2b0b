#pragma once
// For tests of "write, then apply": the real store behind it, whose writes
// fail (UNAVAILABLE, as a full disk) while `*fail` is set; reads go on.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/store/store.h"

namespace tunefleet::store::testing {

// The real SQLite store, whose writes fail while `fail` is set (reads go on).
class FaultyStore final : public Store {
 public:
  // `job_transactions`, when given, counts the job writes that went through
  // (UpdateJob, UpdateJobs: one each, however many jobs).
  FaultyStore(std::unique_ptr<Store> inner, const bool* fail, int* job_transactions = nullptr)
      : inner_(std::move(inner)), fail_(fail), job_transactions_(job_transactions) {}

  absl::StatusOr<std::vector<int64_t>> InsertJobs(const std::vector<NewJob>& jobs) override {
    if (*fail_) return Injected();
    return inner_->InsertJobs(jobs);
  }
  absl::Status UpdateJob(const v1::Job& job, const std::vector<v1::JobEvent>& events,
                         const std::optional<AttemptRecord>& attempt) override {
    if (*fail_) return Injected();
    Count();
    return inner_->UpdateJob(job, events, attempt);
  }
  absl::Status UpdateJobs(const std::vector<JobUpdate>& updates) override {
    if (*fail_) return Injected();
    Count();
    return inner_->UpdateJobs(updates);
  }
  absl::Status PutWorker(const v1::Worker& worker) override {
    if (*fail_) return Injected();
    return inner_->PutWorker(worker);
  }
  absl::StatusOr<std::vector<StoredJob>> LoadJobs() override { return inner_->LoadJobs(); }
  absl::StatusOr<StoredJob> LoadJob(const std::string& name) override { return inner_->LoadJob(name); }
  absl::StatusOr<std::vector<StoredJob>> LoadJobsAfter(int64_t after, const std::vector<v1::JobState>& states,
                                                              int64_t limit) override {
    return inner_->LoadJobsAfter(after, states, limit);
  }
  absl::Status DeleteWorker(const std::string& name) override {
    if (*fail_) return Injected();
    return inner_->DeleteWorker(name);
  }
  absl::StatusOr<std::vector<v1::JobEvent>> LoadEvents(const std::string& job, int64_t after,
                                                       int64_t limit) override {
    return inner_->LoadEvents(job, after, limit);
  }
  absl::StatusOr<std::vector<AttemptRecord>> LoadAttempts(const std::string& job) override {
    return inner_->LoadAttempts(job);
  }
  absl::StatusOr<std::vector<v1::Worker>> LoadWorkers() override { return inner_->LoadWorkers(); }
  absl::Status AppendMetrics(const std::string& job, const std::vector<v1::MetricSample>& samples,
                             const MetricRetention& keep) override {
    if (*fail_) return Injected();
    return inner_->AppendMetrics(job, samples, keep);
  }
  absl::StatusOr<std::vector<v1::MetricSample>> LoadMetrics(const std::string& job) override {
    return inner_->LoadMetrics(job);
  }

  absl::StatusOr<std::vector<int64_t>> InsertSweep(const v1::Sweep& sweep, const std::string& request_id,
                                                   const std::vector<NewJob>& members) override {
    if (*fail_) return Injected();
    return inner_->InsertSweep(sweep, request_id, members);
  }
  absl::Status UpdateSweep(const v1::Sweep& sweep) override {
    if (*fail_) return Injected();
    return inner_->UpdateSweep(sweep);
  }
  absl::StatusOr<std::vector<StoredSweep>> LoadSweeps() override { return inner_->LoadSweeps(); }

 private:
  static absl::Status Injected() { return absl::UnavailableError("sqlite write: database or disk is full (injected)"); }
  void Count() {
    if (job_transactions_ != nullptr) ++*job_transactions_;
  }
  std::unique_ptr<Store> inner_;
  const bool* fail_;
  int* job_transactions_;
};

}  // namespace tunefleet::store::testing
