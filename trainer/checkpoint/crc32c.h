#pragma once
// CRC32C (Castagnoli), the checksum of every checkpoint file. Chosen over
// SHA-256 because the threat is accidental corruption (a torn write, a
// flipped bit on shared storage), not an adversary: CRC32C detects every
// burst error up to 32 bits and runs at memory speed with the SSE4.2
// instruction (used when the CPU has it), so it can be computed while a
// file is written and verified on every load at GB/s. SHA-256 in software
// would be ~10x slower and add a dependency for a guarantee we don't need.

#include <cstddef>
#include <cstdint>
#include <string>

namespace tunefleet {

// Extends `crc` (the value returned for the bytes before, 0 to start) over
// `size` bytes at `data`. Crc32c("123456789") == 0xE3069283.
uint32_t ExtendCrc32c(uint32_t crc, const void* data, size_t size);

// The table-driven path alone, whatever the CPU: for tests that compare it
// with the hardware path.
uint32_t ExtendCrc32cPortable(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) { return ExtendCrc32c(0, data, size); }

// "e3069283": fixed-width lowercase hex, as the manifest stores it.
std::string Crc32cHex(uint32_t crc);

}  // namespace tunefleet
