// The main of a fuzz target built without libFuzzer (no clang): runs
// LLVMFuzzerTestOneInput once on each file named, or on each file in each
// directory named, so the corpus (crash reproducers included) is still
// replayed by the test suite. Flags (-runs=, -max_total_time=, ...) are
// libFuzzer's and are ignored here.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> paths;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
      for (const auto& p : paths) {
        if (!RunFile(p)) return 1;
        ++files;
      }
    } else {
      if (!RunFile(arg)) return 1;
      ++files;
    }
  }
  std::printf("replay: ran %d inputs\n", files);
  return 0;
}
