#pragma once
// The few NVML entry points the worker uses, declared from NVML's documented
// C ABI so that nothing of the driver is needed to build: the library is
// loaded with dlopen at run time (nvml_gpu_inventory.cc), and the tests'
// fake library (fake_nvml.cc) implements the same symbols.

extern "C" {

typedef int nvmlReturn_t;  // an enum in nvml.h; int-sized
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;
typedef struct {
  unsigned int gpu;     // percent of time a kernel ran, over the last sample period
  unsigned int memory;  // percent of time memory was read or written
} nvmlUtilization_t;

}  // extern "C"

namespace tunefleet::worker::nvml {

constexpr nvmlReturn_t kSuccess = 0;
constexpr unsigned int kUuidBufferSize = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
constexpr unsigned int kNameBufferSize = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using GetCountFn = nvmlReturn_t (*)(unsigned int*);
using GetHandleByIndexFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using GetStringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using GetMemoryInfoFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using GetUtilizationRatesFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);

}  // namespace tunefleet::worker::nvml
