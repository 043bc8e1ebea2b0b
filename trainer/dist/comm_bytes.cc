#include "trainer/dist/comm_bytes.h"

#include <algorithm>
#include <fstream>
#include <string>

namespace tunefleet {
namespace {

int64_t RoundUp(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

int64_t RingAllReduceBytes(int64_t bytes, int world) { return 2 * (bytes * (world - 1) / world); }

int64_t RingAllGatherBytes(int64_t output_bytes, int world) { return output_bytes * (world - 1) / world; }

int64_t RingReduceScatterBytes(const std::vector<int64_t>& piece_bytes, int rank) {
  int64_t sent = 0;
  for (std::size_t r = 0; r < piece_bytes.size(); ++r) {
    if (static_cast<int>(r) != rank) sent += piece_bytes[r];
  }
  return sent;
}

int64_t GlooReduceBytes(int64_t elements, int64_t element_size, int world, int rank, int root) {
  if (world <= 1 || elements <= 0) return 0;
  // The arithmetic of gloo::reduce, with its default maxSegmentSize (1 MiB).
  constexpr int64_t kMaxSegmentBytes = 1 << 20;
  const int64_t total = elements * element_size;
  const int64_t max_segment = element_size * std::max<int64_t>(1, kMaxSegmentBytes / element_size);
  const int64_t segment = RoundUp(std::min((total + 2 * world - 1) / (2 * world), max_segment), element_size);
  const int64_t num_segments = RoundUp(std::max<int64_t>((total + segment - 1) / segment, 2 * world), world);
  const int64_t per_rank = num_segments / world;
  int64_t sent = 0;
  // Its reduce-scatter sends one segment in each of all but the last two of
  // num_segments iterations (nothing past the end of the tensor).
  for (int64_t i = 0; i + 2 < num_segments; ++i) {
    const int64_t offset = ((rank + 1) * per_rank + i) * segment % (num_segments * segment);
    sent += std::clamp<int64_t>(total - offset, 0, segment);
  }
  if (rank != root) sent += std::clamp<int64_t>(total - rank * per_rank * segment, 0, per_rank * segment);
  return sent;
}

int64_t ProcessWrittenBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "wchar:") return value;
  }
  return -1;
}

}  // namespace tunefleet
