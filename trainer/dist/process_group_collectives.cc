#include "trainer/dist/process_group_collectives.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <type_traits>
#include <vector>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef TUNEFLEET_WITH_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "absl/strings/str_cat.h"
#include "trainer/dist/comm_bytes.h"

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

// Set once any operation of a process group failed: it is then aborted at
// exit, not shut down (a graceful shutdown would wait on the dead peer).
using FailureFlag = std::shared_ptr<std::atomic<bool>>;

class Pending : public CollectiveWork {
 public:
  Pending(c10::intrusive_ptr<c10d::Work> work, int rank, std::string op, std::string what,
          std::chrono::milliseconds timeout, FailureFlag failed, std::shared_ptr<std::atomic<int64_t>> blocked_ns)
      : work_(std::move(work)), rank_(rank), op_(std::move(op)), what_(std::move(what)), timeout_(timeout),
        failed_(std::move(failed)), blocked_ns_(std::move(blocked_ns)) {}

  absl::Status Wait() override {
    if (!work_) return absl::OkStatus();
    // Every host-side wait of every operation passes here (the composite
    // works wrap these), so counting here counts each once.
    const auto start = std::chrono::steady_clock::now();
    struct Count {
      std::chrono::steady_clock::time_point start;
      std::atomic<int64_t>& total;
      ~Count() {
        total += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                     .count();
      }
    } count{start, *blocked_ns_};
    try {
      // The backend's own timeout applies too; this one bounds the wait
      // whatever the backend does.
      work_->wait(timeout_);
      work_.reset();
      return absl::OkStatus();
    } catch (...) {
      work_.reset();
      failed_->store(true);
      return OpFailed(rank_, op_, what_, timeout_, std::current_exception());
    }
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  int rank_;
  std::string op_, what_;
  std::chrono::milliseconds timeout_;
  FailureFlag failed_;
  std::shared_ptr<std::atomic<int64_t>> blocked_ns_;
};

// Several operations that finish together: the reduces that stand in for a
// reduce-scatter. Every part is waited for even after one fails, so none is
// left running over a buffer the caller is about to free.
class AllOf : public CollectiveWork {
 public:
  explicit AllOf(std::vector<std::unique_ptr<CollectiveWork>> parts) : parts_(std::move(parts)) {}
  absl::Status Wait() override {
    absl::Status status;
    for (auto& part : parts_) {
      absl::Status s = part->Wait();
      if (status.ok()) status = s;
    }
    parts_.clear();
    return status;
  }

 private:
  std::vector<std::unique_ptr<CollectiveWork>> parts_;
};

// A bf16 collective carried out in fp32 on a backend without bf16: once the
// fp32 copy's operation finishes, its result is rounded back into the bf16
// tensor (exact for all-gathers, which move bf16 values only).
class Narrowing : public CollectiveWork {
 public:
  Narrowing(std::unique_ptr<CollectiveWork> inner, torch::Tensor wide, torch::Tensor target)
      : inner_(std::move(inner)), wide_(std::move(wide)), target_(std::move(target)) {}
  absl::Status Wait() override {
    absl::Status s = inner_->Wait();
    if (s.ok() && target_.defined()) {
      try {
        torch::NoGradGuard no_grad;
        target_.copy_(wide_);
      } catch (const std::exception& e) {
        s = absl::InternalError(absl::StrCat("rounding an fp32 collective's result to bf16: ", e.what()));
      }
    }
    target_ = torch::Tensor();
    wide_ = torch::Tensor();
    return s;
  }

 private:
  std::unique_ptr<CollectiveWork> inner_;
  torch::Tensor wide_, target_;
};

class Done : public CollectiveWork {
 public:
  absl::Status Wait() override { return absl::OkStatus(); }
};

// Whether the backend has the flat-buffer collectives (_reduce_scatter_base,
// _allgather_base). 1.13's Gloo throws "not supported" for them.
template <typename PG>
constexpr bool kHasBaseCollectives = false;
#ifdef TUNEFLEET_WITH_CUDA
template <>
constexpr bool kHasBaseCollectives<c10d::ProcessGroupNCCL> = true;
#endif

// Whether the backend reduces and gathers bf16 tensors; where it does not,
// bf16 buffers cross ranks as fp32 copies: twice the bytes, sums in fp32.
// NCCL does, and so does Gloo since torch 2.x (Debian's libtorch 1.13,
// which tunefleet used before, did not).
template <typename PG>
constexpr bool kHasBf16 = false;
template <>
constexpr bool kHasBf16<c10d::ProcessGroupGloo> = true;
#ifdef TUNEFLEET_WITH_CUDA
template <>
constexpr bool kHasBf16<c10d::ProcessGroupNCCL> = true;
#endif

template <typename PG>
class ProcessGroupCollectives : public Collectives {
 public:
  ProcessGroupCollectives(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg, int rank, int world_size,
                          std::chrono::milliseconds timeout, std::string backend)
      : store_(std::move(store)), pg_(std::move(pg)), rank_(rank), world_size_(world_size), timeout_(timeout),
        backend_(std::move(backend)) {}

  // The process group ends with this object, on every way out of the run
  // (c10d otherwise warns that it was never destroyed, and may leak the
  // backend's communicators): shut down when all went well, aborted after a
  // failed operation. Nothing may throw from here.
  ~ProcessGroupCollectives() override {
    try {
      if (failed_->load()) {
        pg_->abort();
      } else {
        pg_->shutdown();
      }
    } catch (...) {
    }
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }
  std::string backend() const override { return backend_; }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> AllReduceSum(torch::Tensor tensor,
                                                               const std::string& what) override {
    if (NeedsWidening(tensor)) {
      return Widened(tensor, [&](torch::Tensor wide) { return AllReduceSum(wide, what); });
    }
    const int64_t bytes = RingAllReduceBytes(tensor.nbytes(), world_size_);
    Count(bytes, bytes);
    // One rank (here and below): the result is the input; no need to queue
    // work on Gloo's threads.
    if (world_size_ == 1) return std::unique_ptr<CollectiveWork>(new Done);
    return Launch("all-reduce", what, [&] {
      std::vector<at::Tensor> tensors{tensor};
      return pg_->allreduce(tensors, c10d::AllreduceOptions{});
    });
  }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> ReduceSum(torch::Tensor tensor, int root,
                                                            const std::string& what) override {
    if (NeedsWidening(tensor)) {
      return Widened(tensor, [&](torch::Tensor wide) { return ReduceSum(wide, root, what); });
    }
    const int64_t ideal = rank_ == root ? 0 : tensor.nbytes();
    Count(ReduceBytes(tensor, root), ideal);
    if (world_size_ == 1) return std::unique_ptr<CollectiveWork>(new Done);
    return LaunchReduce(tensor, root, what);
  }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> ReduceScatterSum(torch::Tensor input,
                                                                   std::vector<int64_t> piece_sizes,
                                                                   const std::string& what) override {
    if (NeedsWidening(input)) {
      return Widened(input, [&](torch::Tensor wide) { return ReduceScatterSum(wide, piece_sizes, what); });
    }
    int64_t total = 0;
    [[maybe_unused]] bool equal = true;  // read only where the backend has reduce-scatter
    for (int64_t n : piece_sizes) {
      total += n;
      equal = equal && n == piece_sizes.front();
    }
    if (static_cast<int>(piece_sizes.size()) != world_size_ || total != input.numel()) {
      return absl::InvalidArgumentError(absl::StrCat("reduce-scatter of ", what, ": ", piece_sizes.size(),
                                                     " pieces of ", total, " elements for ", world_size_,
                                                     " ranks and ", input.numel(), " elements"));
    }
    const int64_t element = static_cast<int64_t>(input.element_size());
    std::vector<int64_t> piece_bytes;
    for (int64_t n : piece_sizes) piece_bytes.push_back(n * element);
    const int64_t ideal = RingReduceScatterBytes(piece_bytes, rank_);
    if (world_size_ == 1) {
      Count(0, 0);
      return std::unique_ptr<CollectiveWork>(new Done);
    }
    if constexpr (kHasBaseCollectives<PG>) {
      if (equal) {
        // The real collective, in place: this rank's piece is the output.
        Count(ideal, ideal);
        const int64_t chunk = piece_sizes.front();
        return Launch("reduce-scatter", what, [&] {
          torch::Tensor output = input.narrow(0, rank_ * chunk, chunk);
          return pg_->_reduce_scatter_base(output, input);
        });
      }
    }
    // One reduce per non-empty piece, to the rank that keeps it: the pieces
    // of a gradient bucket are uneven (most ranks own none of it), and
    // libtorch 1.13's Gloo has no reduce-scatter at all. DeepSpeed's ZeRO-2
    // does the same. What the reduces send is counted as sent; the ring
    // reduce-scatter's figure as ideal.
    std::vector<std::unique_ptr<CollectiveWork>> parts;
    int64_t sent = 0, offset = 0;
    for (int r = 0; r < world_size_; ++r) {
      const int64_t n = piece_sizes[r];
      if (n > 0) {
        torch::Tensor piece = input.narrow(0, offset, n);
        sent += ReduceBytes(piece, r);
        auto work = LaunchReduce(piece, r, what);
        if (!work.ok()) {
          AllOf(std::move(parts)).Wait().IgnoreError();  // the status above says what failed
          Count(sent, ideal);
          return work.status();
        }
        parts.push_back(std::move(*work));
      }
      offset += n;
    }
    Count(sent, ideal);
    return std::unique_ptr<CollectiveWork>(new AllOf(std::move(parts)));
  }

  absl::Status AllGather(torch::Tensor input, torch::Tensor output, const std::string& what) override {
    if (NeedsWidening(output)) {
      torch::Tensor wide_input, wide_output;
      try {
        torch::NoGradGuard no_grad;
        wide_input = input.to(torch::kFloat32);  // a copy: input may alias output
        wide_output = torch::empty(output.sizes(), output.options().dtype(torch::kFloat32));
      } catch (const std::exception& e) {
        return absl::InternalError(absl::StrCat("all-gather of ", what, ": widening to fp32: ", e.what()));
      }
      if (absl::Status s = AllGather(wide_input, wide_output, what); !s.ok()) return s;
      return Narrowing(std::make_unique<Done>(), wide_output, output).Wait();
    }
    const int64_t chunk = input.numel();
    if (output.numel() != chunk * world_size_) {
      return absl::InvalidArgumentError(absl::StrCat("all-gather of ", what, ": output has ", output.numel(),
                                                     " elements, not ", world_size_, " x ", chunk));
    }
    const int64_t bytes = RingAllGatherBytes(output.nbytes(), world_size_);
    Count(bytes, bytes);
    if (world_size_ == 1) {
      if (input.data_ptr() != output.data_ptr()) output.copy_(input);
      return absl::OkStatus();
    }
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
  static bool NeedsWidening(const torch::Tensor& t) {
    return !kHasBf16<PG> && t.scalar_type() == torch::kBFloat16;
  }

  // Runs `op` on an fp32 copy of the bf16 `tensor`; the work rounds the
  // result back into `tensor` when waited for.
  template <typename Op>
  absl::StatusOr<std::unique_ptr<CollectiveWork>> Widened(const torch::Tensor& tensor, Op&& op) {
    torch::Tensor wide;
    try {
      torch::NoGradGuard no_grad;
      wide = tensor.to(torch::kFloat32);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("widening a bf16 tensor to fp32 for ", backend_, ": ", e.what()));
    }
    absl::StatusOr<std::unique_ptr<CollectiveWork>> work = op(wide);
    if (!work.ok()) return work.status();
    return std::unique_ptr<CollectiveWork>(new Narrowing(std::move(*work), wide, tensor));
  }

  // NCCL's reduce is a ring ending at the root: each other rank sends the
  // tensor once. Gloo's is a reduce-scatter and a gather to the root.
  int64_t ReduceBytes(const torch::Tensor& tensor, int root) const {
    if constexpr (kHasBaseCollectives<PG>) {
      return rank_ == root ? 0 : tensor.nbytes();
    } else {
      return GlooReduceBytes(tensor.numel(), static_cast<int64_t>(tensor.element_size()), world_size_, rank_, root);
    }
  }

  absl::StatusOr<std::unique_ptr<CollectiveWork>> LaunchReduce(torch::Tensor tensor, int root,
                                                                const std::string& what) {
    return Launch("reduce", what, [&] {
      std::vector<at::Tensor> tensors{tensor};
      c10d::ReduceOptions options;
      options.rootRank = root;
      return pg_->reduce(tensors, options);
    });
  }

  template <typename Fn>
  absl::StatusOr<std::unique_ptr<CollectiveWork>> Launch(const std::string& op, const std::string& what, Fn&& fn) {
    try {
      return std::unique_ptr<CollectiveWork>(new Pending(fn(), rank_, op, what, timeout_, failed_, blocked_counter()));
    } catch (...) {
      failed_->store(true);
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
  FailureFlag failed_ = std::make_shared<std::atomic<bool>>(false);
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
