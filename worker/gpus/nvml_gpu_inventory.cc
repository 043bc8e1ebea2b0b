#include "worker/gpus/nvml_gpu_inventory.h"

#include <dlfcn.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/gpus/nvml_abi.h"

namespace tunefleet::worker {
namespace {

struct NvmlApi {
  nvml::InitFn init = nullptr;
  nvml::ShutdownFn shutdown = nullptr;
  nvml::ErrorStringFn error_string = nullptr;
  nvml::GetCountFn get_count = nullptr;
  nvml::GetHandleByIndexFn get_handle = nullptr;
  nvml::GetStringFn get_uuid = nullptr;
  nvml::GetStringFn get_name = nullptr;
  nvml::GetMemoryInfoFn get_memory = nullptr;
  nvml::GetUtilizationRatesFn get_utilization = nullptr;
};

template <typename Fn>
bool Resolve(void* library, const char* symbol, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(library, symbol));
  return *fn != nullptr;
}

class NvmlGpuInventory final : public GpuInventory {
 public:
  NvmlGpuInventory(void* library, NvmlApi api) : library_(library), api_(api) {}
  ~NvmlGpuInventory() override {
    if (initialized_) api_.shutdown();
    dlclose(library_);
  }
  NvmlGpuInventory(const NvmlGpuInventory&) = delete;
  NvmlGpuInventory& operator=(const NvmlGpuInventory&) = delete;

  absl::Status Init() {
    if (nvmlReturn_t r = api_.init(); r != nvml::kSuccess) return Error("nvmlInit_v2", r);
    initialized_ = true;
    unsigned int count = 0;
    if (nvmlReturn_t r = api_.get_count(&count); r != nvml::kSuccess) return Error("nvmlDeviceGetCount_v2", r);
    for (unsigned int i = 0; i < count; ++i) {
      nvmlDevice_t handle = nullptr;
      if (nvmlReturn_t r = api_.get_handle(i, &handle); r != nvml::kSuccess) {
        return Error(absl::StrCat("nvmlDeviceGetHandleByIndex_v2(", i, ")"), r);
      }
      v1::GpuDevice device;
      device.set_index(static_cast<int32_t>(i));
      char text[nvml::kUuidBufferSize > nvml::kNameBufferSize ? nvml::kUuidBufferSize : nvml::kNameBufferSize] = {};
      if (nvmlReturn_t r = api_.get_uuid(handle, text, nvml::kUuidBufferSize); r != nvml::kSuccess) {
        return Error(absl::StrCat("nvmlDeviceGetUUID(", i, ")"), r);
      }
      device.set_uuid(text);
      if (api_.get_name(handle, text, nvml::kNameBufferSize) == nvml::kSuccess) device.set_model(text);
      nvmlMemory_t memory{};
      if (api_.get_memory(handle, &memory) == nvml::kSuccess) {
        device.set_memory_bytes(static_cast<int64_t>(memory.total));
      }
      devices_.push_back(std::move(device));
      handles_.push_back(handle);
    }
    return absl::OkStatus();
  }

  const std::vector<v1::GpuDevice>& Devices() const override { return devices_; }

  // NVML is thread-safe; handles stay valid until nvmlShutdown.
  absl::StatusOr<std::vector<GpuStatus>> Sample() const override {
    std::vector<GpuStatus> out;
    for (size_t i = 0; i < handles_.size(); ++i) {
      GpuStatus status;
      status.index = devices_[i].index();
      status.uuid = devices_[i].uuid();
      nvmlUtilization_t utilization{};
      if (api_.get_utilization(handles_[i], &utilization) == nvml::kSuccess) {
        status.utilization_ratio = utilization.gpu / 100.0;
      }
      nvmlMemory_t memory{};
      if (api_.get_memory(handles_[i], &memory) == nvml::kSuccess) {
        status.memory_used_bytes = static_cast<int64_t>(memory.used);
        status.memory_total_bytes = static_cast<int64_t>(memory.total);
      }
      out.push_back(std::move(status));
    }
    return out;
  }

 private:
  absl::Status Error(const std::string& call, nvmlReturn_t r) const {
    const char* text = api_.error_string ? api_.error_string(r) : nullptr;
    return absl::UnavailableError(absl::StrCat(call, ": ", text ? std::string(text) : absl::StrCat("error ", r)));
  }

  void* const library_;
  const NvmlApi api_;
  bool initialized_ = false;
  std::vector<v1::GpuDevice> devices_;
  std::vector<nvmlDevice_t> handles_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GpuInventory>> OpenNvmlInventory(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::NotFoundError(absl::StrCat("cannot load ", library, ": ", why ? why : "unknown error"));
  }
  NvmlApi api;
  const bool resolved =
      Resolve(handle, "nvmlInit_v2", &api.init) && Resolve(handle, "nvmlShutdown", &api.shutdown) &&
      Resolve(handle, "nvmlErrorString", &api.error_string) &&
      Resolve(handle, "nvmlDeviceGetCount_v2", &api.get_count) &&
      Resolve(handle, "nvmlDeviceGetHandleByIndex_v2", &api.get_handle) &&
      Resolve(handle, "nvmlDeviceGetUUID", &api.get_uuid) && Resolve(handle, "nvmlDeviceGetName", &api.get_name) &&
      Resolve(handle, "nvmlDeviceGetMemoryInfo", &api.get_memory) &&
      Resolve(handle, "nvmlDeviceGetUtilizationRates", &api.get_utilization);
  if (!resolved) {
    dlclose(handle);
    return absl::FailedPreconditionError(absl::StrCat(library, " lacks an NVML entry point this worker needs"));
  }
  auto inventory = std::make_unique<NvmlGpuInventory>(handle, api);
  if (absl::Status s = inventory->Init(); !s.ok()) return s;
  return inventory;
}

}  // namespace tunefleet::worker
