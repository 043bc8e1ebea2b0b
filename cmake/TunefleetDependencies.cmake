# Every third-party dependency is found here, once. All come from Debian
# bookworm's packages (scripts/install_deps.sh), except the CUDA libtorch.

find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
if(TUNEFLEET_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

if(TUNEFLEET_BUILD_TRAINER)
  if(TUNEFLEET_CUDA)
    # The CUDA libtorch inside a PyTorch wheel: ask its Python for the prefix.
    if(NOT TUNEFLEET_TORCH_PREFIX)
      execute_process(
        COMMAND python3 -c "import torch; print(torch.utils.cmake_prefix_path)"
        OUTPUT_VARIABLE TUNEFLEET_TORCH_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
        RESULT_VARIABLE _torch_rc)
      if(NOT _torch_rc EQUAL 0)
        message(FATAL_ERROR "TUNEFLEET_CUDA=ON needs a PyTorch with CUDA: "
                            "python3 -c 'import torch' failed. Set TUNEFLEET_TORCH_PREFIX.")
      endif()
    endif()
    list(PREPEND CMAKE_PREFIX_PATH "${TUNEFLEET_TORCH_PREFIX}")
    enable_language(CUDA)
  endif()
  find_package(Torch REQUIRED)
  message(STATUS "tunefleet: libtorch ${Torch_VERSION} from ${Torch_DIR} (CUDA ${TUNEFLEET_CUDA})")
  # One imported target for the trainer's code, so no target spells torch's flags itself.
  add_library(tunefleet_torch INTERFACE)
  target_link_libraries(tunefleet_torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(tunefleet_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  if(TUNEFLEET_CUDA)
    target_compile_definitions(tunefleet_torch INTERFACE TUNEFLEET_WITH_CUDA=1)
  endif()

  # Parsing <torch/torch.h> is most of a trainer file's compile time (~25 s
  # of ~30 s on the 2-core machines): compile it once, into one precompiled
  # header that every torch target reuses (tunefleet_use_torch_pch).
  option(TUNEFLEET_TORCH_PCH "Precompile <torch/torch.h> once for all trainer targets" ON)
  if(TUNEFLEET_TORCH_PCH)
    add_library(tunefleet_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cc)
    target_link_libraries(tunefleet_torch_pch PRIVATE tunefleet_torch tunefleet_warnings)
    target_precompile_headers(tunefleet_torch_pch PRIVATE <torch/torch.h>)
  endif()
endif()

function(tunefleet_use_torch_pch)
  if(TARGET tunefleet_torch_pch)
    foreach(target ${ARGN})
      target_precompile_headers(${target} REUSE_FROM tunefleet_torch_pch)
    endforeach()
  endif()
endfunction()
