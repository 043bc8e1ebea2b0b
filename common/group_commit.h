#pragma once
// Group commit, leader and followers: each caller queues its item and waits;
// the first caller that finds no commit under way becomes the leader, takes
// every item queued (its own, unless an earlier leader took it), commits them
// as one batch without the queue's lock, and hands each caller its result.
// One transaction and one fsync serve every caller that arrived while the
// previous batch was being written. Used by the coordinator's submissions and
// its audit log.

#include <optional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace tunefleet {

template <typename Item, typename Result>
class GroupCommit {
 public:
  // `commit(const std::vector<Item*>& batch)` returns one Result per item, in
  // order; batches run one at a time, on the leading caller's thread, with
  // the leader's `commit` for every item of the batch (so every caller of
  // one GroupCommit passes the same commit). Returns this item's result once
  // its batch is committed (or failed).
  template <typename Commit>
  Result Submit(Item item, Commit&& commit) {
    Waiter me{std::move(item), std::nullopt};
    absl::MutexLock lock(&mu_);
    queue_.push_back(&me);
    while (!me.result.has_value()) {
      if (leading_) {
        done_.Wait(&mu_);
        continue;
      }
      leading_ = true;
      std::vector<Waiter*> batch;
      batch.swap(queue_);
      std::vector<Item*> items;
      items.reserve(batch.size());
      for (Waiter* waiter : batch) items.push_back(&waiter->item);
      mu_.Unlock();
      std::vector<Result> results = commit(items);
      mu_.Lock();
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
      leading_ = false;
      done_.SignalAll();
    }
    return *std::move(me.result);
  }

 private:
  struct Waiter {
    Item item;
    std::optional<Result> result;  // set under mu_
  };
  absl::Mutex mu_;
  absl::CondVar done_;
  std::vector<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tunefleet
