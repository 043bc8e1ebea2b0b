#pragma once
// Bytes one rank sends for each collective: the bandwidth-optimal (ring)
// figure, and what Gloo's own reduce sends, so Collectives::stats() can set
// what an emulation costs beside what the real collective would.

#include <cstdint>
#include <vector>

namespace tunefleet {

// Ring all-reduce: a reduce-scatter and an all-gather, 2(N-1)/N of the tensor.
int64_t RingAllReduceBytes(int64_t bytes, int world);
// Ring all-gather: (N-1)/N of the output.
int64_t RingAllGatherBytes(int64_t output_bytes, int world);
// Ring reduce-scatter of consecutive pieces (any sizes): each piece travels
// the ring once, sent by every rank but its owner, so `rank` sends every
// piece but its own (equal pieces: (N-1)/N of the input).
int64_t RingReduceScatterBytes(const std::vector<int64_t>& piece_bytes, int rank);
// gloo::reduce (gloo/reduce.cc), replayed: a ring reduce-scatter over
// 2 or more segments per rank (at most 1 MiB each), then every rank but the
// root sends its reduced chunk to the root. About the whole tensor for a
// non-root rank, (N-1)/N of it for the root.
int64_t GlooReduceBytes(int64_t elements, int64_t element_size, int world, int rank, int root);

// Bytes this process has passed to write(2)-family calls ("wchar" in
// /proc/self/io): Gloo's TCP transport sends with writev, so the change over
// a span with no file output measures what the collectives really sent
// (headers included). -1 where /proc/self/io cannot be read.
int64_t ProcessWrittenBytes();

}  // namespace tunefleet
