#pragma once
// The Tokenizer behind tokenizer.json: added tokens, normaliser,
// pre-tokenizer, BPE model and decoder, assembled by tokenizer_json.cc.

#include <memory>
#include <vector>

#include "trainer/tokenizer/added_vocabulary.h"
#include "trainer/tokenizer/bpe_model.h"
#include "trainer/tokenizer/pre_tokenizer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {

enum class DecoderKind {
  kNone,       // no decoder: tokens joined by spaces, as HF does
  kByteLevel,  // byte-level alphabet back to bytes, then lossy UTF-8
};

struct TokenizerParts {
  bool nfc = false;                             // the normaliser: NFC or nothing
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // may be null
  std::unique_ptr<BpeModel> model;
  std::vector<AddedToken> added_tokens;
  DecoderKind decoder = DecoderKind::kNone;
};

std::unique_ptr<Tokenizer> MakeBpeTokenizer(TokenizerParts parts);

}  // namespace tunefleet
