#include "trainer/dist/process_group_collectives.h"

#include <exception>
#include <type_traits>
#include <vector>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef TUNEFLEET_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "absl/strings/str_cat.h"

namespace tunefleet {
namespace {

// c10::Error's what() carries a C++ backtrace; the message alone is what a
// user needs to see.
std::string ExceptionText(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

absl::Status OpFailed(int rank, const std::string& op, const std::string& what, std::chrono::milliseconds timeout,
                      const std::exception_ptr& error) {
  return absl::UnavailableError(absl::StrCat("rank ", rank, ": ", op, " of ", what,
                                             " failed (collective timeout ", timeout.count() / 1000.0,
                                             " s; a peer rank died, hung or diverged): ", ExceptionText(error)));
}

class Pending : public CollectiveWork {
 public:
  Pending(c10::intrusive_ptr<c10d::Work> work, int rank, std::string op, std::string what,
          std::chrono::milliseconds timeout)
      : work_(std::move(work)), rank_(rank), op_(std::move(op)), what_(std::move(what)), timeout_(timeout) {}

  absl::Status Wait() override {
    if (!work_) return absl::OkStatus();
    try {
      // The backend's own timeout applies too; this one bounds the wait
      // whatever the backend does.
      work_->wait(timeout_);
      work_.reset();
      return absl::OkStatus();
    } catch (...) {
      work_.reset();
      return OpFailed(rank_, op_, what_, timeout_, std::current_exception());
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  int rank_;
  std::string op_, what_;
  std::chrono::milliseconds timeout_;
};

// Whether the backend has the flat-buffer collectives (_reduce_scatter_base,
// _allgather_base). 1.13's Gloo throws "not supported" for them.
template <typename PG>
constexpr bool kHasBaseCollectives = false;
#ifdef TUNEFLEET_WITH_CUDA
template <>
constexpr bool kHasBaseCollectives<c10d::ProcessGroupNCCL> = true;
#endif

template <typename PG>
class ProcessGroupCollectives : public Collectives {
 public:
  ProcessGroupCollectives(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg, int rank, int world_size,
                          std::chrono::milliseconds timeout, std::string backend)
      : store_(std::move(store)), pg_(std::move(pg)), rank_(rank), world_size_(world_size), timeout_(timeout),
        backend_(std::move(backend)) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  std::string backend() const override { return backend_; }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> AllReduceSum(torch::Tensor tensor,
                                                               const std::string& what) override {
    Count(RingBytes(tensor.nbytes()) * 2);
    return Launch("all-reduce", what, [&] {
      std::vector<at::Tensor> tensors{tensor};
      return pg_->allreduce(tensors, c10d::AllreduceOptions{});
    });
  }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> ReduceSum(torch::Tensor tensor, int root,
                                                            const std::string& what) override {
    Count(RingBytes(tensor.nbytes()));
    return Launch("reduce", what, [&] {
      std::vector<at::Tensor> tensors{tensor};
      c10d::ReduceOptions options;
      options.rootRank = root;
      return pg_->reduce(tensors, options);
    });
  }

  absl::Status ReduceScatterSum(torch::Tensor input, torch::Tensor output, const std::string& what) override {
    const int64_t chunk = output.numel();
    if (input.numel() != chunk * world_size_) {
      return absl::InvalidArgumentError(absl::StrCat("reduce-scatter of ", what, ": input has ", input.numel(),
                                                     " elements, not ", world_size_, " x ", chunk));
    }
    if constexpr (kHasBaseCollectives<PG>) {
      Count(RingBytes(input.nbytes()));
      return Run("reduce-scatter", what, [&] { return pg_->_reduce_scatter_base(output, input); });
    } else {
      // Emulated: all-reduce the whole buffer, keep this rank's chunk. It
      // sends twice what a real reduce-scatter would (stats count that).
      Count(RingBytes(input.nbytes()) * 2);
      absl::Status s = Run("reduce-scatter (as all-reduce)", what, [&] {
        std::vector<at::Tensor> tensors{input};
        return pg_->allreduce(tensors, c10d::AllreduceOptions{});
      });
      if (!s.ok()) return s;
      torch::Tensor mine = input.narrow(0, rank_ * chunk, chunk);
      if (!(mine.data_ptr() == output.data_ptr())) output.copy_(mine);
      return absl::OkStatus();
    }
  }

  absl::Status AllGather(torch::Tensor input, torch::Tensor output, const std::string& what) override {
    const int64_t chunk = input.numel();
    if (output.numel() != chunk * world_size_) {
      return absl::InvalidArgumentError(absl::StrCat("all-gather of ", what, ": output has ", output.numel(),
                                                     " elements, not ", world_size_, " x ", chunk));
    }
    Count(RingBytes(output.nbytes()));
    if constexpr (kHasBaseCollectives<PG>) {
      return Run("all-gather", what, [&] { return pg_->_allgather_base(output, input); });
    } else {
      // Gloo's list all-gather copies each rank's piece into the views.
      std::vector<std::vector<at::Tensor>> outputs(1);
      for (int r = 0; r < world_size_; ++r) outputs[0].push_back(output.narrow(0, r * chunk, chunk));
      std::vector<at::Tensor> inputs{input.clone()};  // input may alias output
      return Run("all-gather", what, [&] { return pg_->allgather(outputs, inputs); });
    }
  }

  absl::Status Barrier(const std::string& what) override {
    return Run("barrier", what, [&] { return pg_->barrier(); });
  }

 private:
  int64_t RingBytes(int64_t bytes) const { return bytes * (world_size_ - 1) / world_size_; }

  template <typename Fn>
  absl::StatusOr<std::unique_ptr<CollectiveWork>> Launch(const std::string& op, const std::string& what, Fn&& fn) {
    try {
      return std::unique_ptr<CollectiveWork>(new Pending(fn(), rank_, op, what, timeout_));
    } catch (...) {
      return OpFailed(rank_, op, what, timeout_, std::current_exception());
    }
  }

  template <typename Fn>
  absl::Status Run(const std::string& op, const std::string& what, Fn&& fn) {
    auto work = Launch(op, what, std::forward<Fn>(fn));
    if (!work.ok()) return work.status();
    return (*work)->Wait();
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<PG> pg_;
  int rank_;
  int world_size_;
  std::chrono::milliseconds timeout_;
  std::string backend_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Collectives>> CreateGlooCollectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                                   int rank, int world_size,
                                                                   std::chrono::milliseconds timeout,
                                                                   const std::string& host) {
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // GLOO_SOCKET_IFNAME picks the interface, as in PyTorch; else the host
    // given (loopback for single-node runs), else this machine's hostname.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (!host.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(host));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    options->threads = 2;
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
    return std::unique_ptr<Collectives>(
        new ProcessGroupCollectives<c10d::ProcessGroupGloo>(store, std::move(pg), rank, world_size, timeout, "gloo"));
  } catch (...) {
    return OpFailed(rank, "set-up", absl::StrCat("the Gloo process group of ", world_size, " ranks"), timeout,
                    std::current_exception());
  }
}

#ifdef TUNEFLEET_WITH_CUDA
absl::StatusOr<std::unique_ptr<Collectives>> CreateNcclCollectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                                   int rank, int world_size,
                                                                   std::chrono::milliseconds timeout) {
  try {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
    return std::unique_ptr<Collectives>(
        new ProcessGroupCollectives<c10d::ProcessGroupNCCL>(store, std::move(pg), rank, world_size, timeout, "nccl"));
  } catch (...) {
    return OpFailed(rank, "set-up", absl::StrCat("the NCCL process group of ", world_size, " ranks"), timeout,
                    std::current_exception());
  }
}
#endif

absl::StatusOr<std::vector<double>> Collectives::SumDoubles(const std::vector<double>& values,
                                                            const std::string& what) {
  if (world_size() == 1) return values;
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  // NCCL reduces device tensors only; the CUDA build keeps these on the GPU.
#ifdef TUNEFLEET_WITH_CUDA
  if (backend() == "nccl") t = t.to(torch::kCUDA);
#endif
  auto work = AllReduceSum(t, what);
  if (!work.ok()) return work.status();
  if (auto s = (*work)->Wait(); !s.ok()) return s;
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

}  // namespace tunefleet
