#pragma once
// Helpers shared by the safetensors tests: fresh temp dirs and raw bytes.

#include <cstdint>
#include <string>

namespace tunefleet {
namespace testing_util {

// A new, empty directory under the test temp dir (mkdtemp), no trailing '/'.
std::string NewTempDir();

void WriteBytes(const std::string& path, const std::string& bytes);
std::string ReadBytes(const std::string& path);

// The 8-byte little-endian encoding of `n`.
std::string LittleEndian64(uint64_t n);

// A .safetensors image built by hand: length prefix, header text, data.
std::string RawSafetensors(const std::string& header_json, const std::string& data);

bool FileExists(const std::string& path);

}  // namespace testing_util
}  // namespace tunefleet
