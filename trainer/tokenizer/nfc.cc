// NFC (canonical decomposition, canonical ordering, canonical composition),
// as in Unicode Standard Annex #15, over the generated tables. Most text is
// already NFC: the quick check returns it untouched without decoding twice.

#include <algorithm>
#include <string>
#include <vector>

#include "trainer/tokenizer/unicode.h"
#include "trainer/tokenizer/unicode_tables.h"

namespace tunefleet {
namespace unicode {
namespace {

namespace t = unicode_tables;

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

// A code point, or an invalid byte kept verbatim (never composes).
struct Unit {
  char32_t cp;
  bool valid;
};

uint8_t RangeValue(const t::ValueRange* begin, size_t n, char32_t cp) {
  const t::ValueRange* end = begin + n;
  const t::ValueRange* it =
      std::upper_bound(begin, end, cp, [](char32_t c, const t::ValueRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->value : 0;
}

uint8_t Ccc(const Unit& u) {
  if (!u.valid || u.cp < 0x300) return 0;  // nothing below U+0300 combines
  return RangeValue(t::kCccRanges, t::kNumCccRanges, u.cp);
}

uint8_t QuickCheck(char32_t cp) {
  if (cp < 0x300) return 0;
  return RangeValue(t::kQuickCheckRanges, t::kNumQuickCheckRanges, cp);
}

void Decompose(const Unit& u, std::vector<Unit>* out) {
  if (!u.valid) {
    out->push_back(u);
    return;
  }
  const char32_t cp = u.cp;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out->push_back({kLBase + s / kNCount, true});
    out->push_back({kVBase + (s % kNCount) / kTCount, true});
    if (s % kTCount != 0) out->push_back({kTBase + s % kTCount, true});
    return;
  }
  const t::Decomposition* begin = t::kDecompositions;
  const t::Decomposition* end = begin + t::kNumDecompositions;
  const t::Decomposition* it = std::lower_bound(
      begin, end, cp, [](const t::Decomposition& d, char32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out->push_back(u);
    return;
  }
  for (uint32_t i = 0; i < it->length; ++i) out->push_back({t::kDecompositionPool[it->offset + i], true});
}

// The primary composite of a + b, or 0.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const t::Composition* begin = t::kCompositions;
  const t::Composition* end = begin + t::kNumCompositions;
  const t::Composition* it = std::lower_bound(begin, end, std::make_pair(a, b),
                                              [](const t::Composition& c, std::pair<char32_t, char32_t> k) {
                                                return c.first < k.first ||
                                                       (c.first == k.first && c.second < k.second);
                                              });
  return it != end && it->first == a && it->second == b ? it->composite : 0;
}

// True when text is certainly NFC already (the standard quick check, with
// Maybe treated as "do the work").
bool IsCertainlyNfc(absl::string_view text) {
  uint8_t last_ccc = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      last_ccc = 0;
      ++pos;
      continue;
    }
    const DecodedChar d = DecodeUtf8(text, pos);
    pos += d.length;
    const Unit u{d.cp, d.valid};
    const uint8_t ccc = Ccc(u);
    if (ccc != 0 && last_ccc > ccc) return false;
    if (d.valid && QuickCheck(d.cp) != 0) return false;
    last_ccc = ccc;
  }
  return true;
}

}  // namespace

std::string Nfc(absl::string_view text) {
  if (IsCertainlyNfc(text)) return std::string(text);

  std::vector<Unit> units;
  units.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const DecodedChar d = DecodeUtf8(text, pos);
    pos += d.length;
    Decompose({d.cp, d.valid}, &units);
  }
  // Canonical ordering: stable-sort each run of non-starters by class.
  for (size_t i = 0; i < units.size();) {
    if (Ccc(units[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < units.size() && Ccc(units[j]) != 0) ++j;
    std::stable_sort(units.begin() + i, units.begin() + j,
                     [](const Unit& a, const Unit& b) { return Ccc(a) < Ccc(b); });
    i = j;
  }
  // Canonical composition: a character composes with the last starter unless
  // blocked by an intervening character of class 0 or of class >= its own.
  std::vector<Unit> out;
  out.reserve(units.size());
  long starter = -1;
  int last_ccc = 0;
  for (const Unit& u : units) {
    const int ccc = Ccc(u);
    // last_ccc == 0 means the starter is the previous character: adjacent.
    if (starter >= 0 && u.valid && out[starter].valid && (last_ccc == 0 || last_ccc < ccc)) {
      const char32_t composite = Compose(out[starter].cp, u.cp);
      if (composite != 0) {
        out[starter].cp = composite;
        continue;
      }
    }
    if (ccc == 0) {
      starter = static_cast<long>(out.size());
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    out.push_back(u);
  }

  std::string result;
  result.reserve(text.size());
  for (const Unit& u : out) {
    if (u.valid) {
      AppendUtf8(u.cp, &result);
    } else {
      result.push_back(static_cast<char>(u.cp));
    }
  }
  return result;
}

}  // namespace unicode
}  // namespace tunefleet
