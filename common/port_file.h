#pragma once
// Writes a bound port number to a file: written then renamed, so a reader
// (a test, a script) never sees a partial number. Header-only.

#include <filesystem>
#include <fstream>
#include <string>

namespace tunefleet {

inline bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace tunefleet
