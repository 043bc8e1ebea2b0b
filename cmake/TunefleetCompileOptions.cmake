# Warnings, sanitizers and the test helper shared by every target.

add_library(tunefleet_warnings INTERFACE)
target_compile_options(tunefleet_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
if(TUNEFLEET_WERROR)
  target_compile_options(tunefleet_warnings INTERFACE -Werror)
endif()

if(TUNEFLEET_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(TUNEFLEET_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TUNEFLEET_SANITIZE STREQUAL "")
  message(FATAL_ERROR "TUNEFLEET_SANITIZE must be empty, 'address' or 'thread', not '${TUNEFLEET_SANITIZE}'")
endif()

# tunefleet_test(NAME <name> SOURCES ... DEPS ... LABELS unit|integration|e2e [TIMEOUT s] [TORCH]
#                [FIXTURES <ctest fixture each test requires>])
# One GoogleTest binary, registered with CTest test by test, labelled.
function(tunefleet_test)
  cmake_parse_arguments(T "TORCH" "NAME;TIMEOUT;FIXTURES" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT TUNEFLEET_BUILD_TESTS)
    return()
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  # Every test pins what its result depends on (threads, locale, no
  # TUNEFLEET_* from the caller): tests/testing/pinned_environment.cc.
  # Compiled once, linked into each test.
  if(NOT TARGET tunefleet_pinned_environment)
    add_library(tunefleet_pinned_environment OBJECT ${PROJECT_SOURCE_DIR}/tests/testing/pinned_environment.cc)
    target_link_libraries(tunefleet_pinned_environment PRIVATE GTest::gtest tunefleet_warnings)
  endif()
  set(_pinned tunefleet_pinned_environment)
  if(T_TORCH)
    if(NOT TARGET tunefleet_pinned_torch_threads)
      add_library(tunefleet_pinned_torch_threads OBJECT ${PROJECT_SOURCE_DIR}/tests/testing/pinned_torch_threads.cc)
      target_link_libraries(tunefleet_pinned_torch_threads PRIVATE tunefleet_torch tunefleet_warnings)
    endif()
    list(APPEND _pinned tunefleet_pinned_torch_threads)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${_pinned})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main tunefleet_warnings)
  target_compile_definitions(${T_NAME} PRIVATE
    TUNEFLEET_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TUNEFLEET_BINARY_DIR="${PROJECT_BINARY_DIR}")
  if(T_TORCH)
    tunefleet_use_torch_pch(${T_NAME})
  endif()
  set(_fixtures)
  if(T_FIXTURES)
    set(_fixtures FIXTURES_REQUIRED ${T_FIXTURES})
  endif()
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} ${_fixtures}
    DISCOVERY_TIMEOUT 60)
endfunction()
