// A stand-in for libnvidia-ml.so.1 in tests: the NVML entry points the worker
// uses (nvml_abi.h), over GPUs that do not exist. Set by environment:
//   TUNEFLEET_FAKE_NVML_GPUS=N   how many (default 2); UUID "GPU-fake-<i>",
//                                80 GiB each, (i+1) GiB used, 40+10i % busy
//   TUNEFLEET_FAKE_NVML_FAIL=1   nvmlInit_v2 fails (a driver that is not loaded)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "worker/gpus/nvml_abi.h"

namespace {

constexpr unsigned long long kGiB = 1ull << 30;

unsigned int Count() {
  const char* n = std::getenv("TUNEFLEET_FAKE_NVML_GPUS");
  return n ? static_cast<unsigned int>(std::atoi(n)) : 2u;
}

// A device handle is its index plus one, never dereferenced.
unsigned int Index(nvmlDevice_t device) { return static_cast<unsigned int>(reinterpret_cast<uintptr_t>(device) - 1); }

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlInit_v2() {
  const char* fail = std::getenv("TUNEFLEET_FAKE_NVML_FAIL");
  return fail && std::strcmp(fail, "1") == 0 ? 9 /* NVML_ERROR_DRIVER_NOT_LOADED */ : 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlShutdown() { return 0; }
__attribute__((visibility("default"))) const char* nvmlErrorString(nvmlReturn_t r) {
  return r == 9 ? "Driver Not Loaded" : "Unknown Error";
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = Count();
  return 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index,
                                                                                  nvmlDevice_t* device) {
  if (index >= Count()) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = reinterpret_cast<nvmlDevice_t>(static_cast<uintptr_t>(index) + 1);
  return 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid,
                                                                      unsigned int length) {
  std::snprintf(uuid, length, "GPU-fake-%u", Index(device));
  return 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t, char* name, unsigned int length) {
  std::snprintf(name, length, "Fake GPU");
  return 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device,
                                                                            nvmlMemory_t* memory) {
  memory->total = 80 * kGiB;
  memory->used = (Index(device) + 1) * kGiB;
  memory->free = memory->total - memory->used;
  return 0;
}
__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                                                  nvmlUtilization_t* utilization) {
  utilization->gpu = 40 + 10 * Index(device);
  utilization->memory = 5;
  return 0;
}

}  // extern "C"
