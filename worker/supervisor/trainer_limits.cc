#include "worker/supervisor/trainer_limits.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/exit_codes.h"

namespace tunefleet::supervisor {

std::vector<ResourceLimit> TrainerRlimits(const TrainerLimits& limits, bool uses_gpu) {
  std::vector<ResourceLimit> rlimits;
  rlimits.push_back({RLIMIT_AS, uses_gpu || limits.address_space_bytes == 0
                                    ? RLIM_INFINITY
                                    : rlim_t{limits.address_space_bytes}});
  rlimits.push_back({RLIMIT_NOFILE, limits.open_files == 0 ? RLIM_INFINITY : rlim_t{limits.open_files}});
  rlimits.push_back({RLIMIT_CORE, 0});
  return rlimits;
}

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  return pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) : 0;
}

absl::StatusOr<uint64_t> ParseMemorySize(absl::string_view text, uint64_t machine_bytes,
                                         absl::string_view flag) {
  const std::string spelled = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (spelled == "0" || spelled == "OFF") return 0;
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text,
                     "\": expected bytes with an optional K, M, G or T suffix "
                     "(e.g. 8G), a percentage of the machine's memory (e.g. 80%), "
                     "or 0/off for none"));
  };
  if (spelled.empty()) return bad();
  double scale = 1;
  std::string number = spelled;
  if (number.back() == '%') {
    scale = static_cast<double>(machine_bytes) / 100;
    number.pop_back();
  } else if (number.back() == 'B') {
    number.pop_back();
  }
  if (!number.empty() && scale == 1) {
    static constexpr absl::string_view kUnits = "KMGT";
    if (const size_t unit = kUnits.find(number.back()); unit != absl::string_view::npos) {
      scale = std::pow(1024.0, static_cast<double>(unit + 1));
      number.pop_back();
    }
  }
  double value = 0;
  if (!absl::SimpleAtod(number, &value) || !std::isfinite(value) || value < 0) return bad();
  const double bytes = value * scale;
  if (bytes >= 1e19) return bad();  // past uint64
  if (bytes < 1) return bad();      // "0.0001" is not "off"
  return static_cast<uint64_t>(bytes);
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, " B");
  return value == std::floor(value) ? absl::StrFormat("%.0f %s", value, kUnits[unit])
                                    : absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string ExitReason(int exit_code, bool oom_killed_in_cgroup, const TrainerLimits& limits, bool uses_gpu) {
  if (oom_killed_in_cgroup) {
    return absl::StrCat("out of memory: killed by the kernel's OOM killer at its cgroup's memory.max of ",
                        FormatBytes(limits.memory_max_bytes), " (--trainer-memory-max)");
  }
  if (exit_code == exit_codes::kOutOfMemory) {
    if (uses_gpu || limits.address_space_bytes == 0) {
      return absl::StrCat("out of memory (exit ", exit_code, "): an allocation was refused");
    }
    return absl::StrCat("out of memory (exit ", exit_code,
                        "): an allocation was refused at the address-space ", "limit RLIMIT_AS of ",
                        FormatBytes(limits.address_space_bytes), " (--trainer-address-space-max)");
  }
  if (exit_code == exit_codes::kAttemptFenced) {
    return absl::StrCat("fenced (exit ", exit_code, "): a newer attempt of its job has started; this stale one "
                        "committed nothing");
  }
  if (exit_code > 128) return absl::StrCat("killed by signal ", exit_code - 128);
  return "";
}

}  // namespace tunefleet::supervisor
