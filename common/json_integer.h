#pragma once
// Reading an integer out of untrusted JSON. nlohmann::json's get<int>() on a
// float value is a static_cast, undefined behaviour past the type's range
// (1e300 as a checkpoint step: found by fuzz/checkpoint_manifest_fuzz), and
// it silently truncates 1.5 or wraps 2^40 into an int. JsonInteger<T> takes
// only a JSON integer that T holds, and throws otherwise; the parsers that
// use it turn exceptions into a status naming the file.

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace tunefleet {

template <typename T>
T JsonInteger(const nlohmann::json& value, const std::string& key) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
  } else if (value.is_number_integer()) {
    const int64_t i = value.get<int64_t>();
    if constexpr (std::is_signed_v<T>) {
      if (i >= std::numeric_limits<T>::min() && i <= std::numeric_limits<T>::max()) return static_cast<T>(i);
    } else {
      if (i >= 0 && static_cast<uint64_t>(i) <= std::numeric_limits<T>::max()) return static_cast<T>(i);
    }
  } else {
    throw std::invalid_argument("\"" + key + "\" must be an integer, got " + value.type_name() +
                                (value.is_number() ? " " + value.dump() : std::string()));
  }
  throw std::out_of_range("\"" + key + "\" is out of range: " + value.dump());
}

// JsonInteger of object.at(key).
template <typename T>
T JsonIntegerAt(const nlohmann::json& object, const std::string& key) {
  return JsonInteger<T>(object.at(key), key);
}

}  // namespace tunefleet
