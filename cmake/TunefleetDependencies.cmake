# Every third-party dependency is found here, once. All come from Debian
# bookworm's packages (scripts/install_deps.sh), except libtorch, which comes
# from the pinned PyPI torch wheel in .venv/ (TunefleetTorch.cmake).

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
  include(TunefleetTorch)
endif()

function(tunefleet_use_torch_pch)
  if(TARGET tunefleet_torch_pch)
    foreach(target ${ARGN})
      target_precompile_headers(${target} REUSE_FROM tunefleet_torch_pch)
    endforeach()
  endif()
endfunction()
