// Tokenizer::FromFile: reads a Hugging Face tokenizer.json and assembles the
// parts it names. What we do not implement is refused by name, never guessed.

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/fs/process_path_policy.h"
#include "common/json_integer.h"
#include "nlohmann/json.hpp"
#include "trainer/tokenizer/bpe_tokenizer.h"
#include "trainer/tokenizer/tokenizer.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

// Parse errors carry only what is wrong; FromFile prefixes the file.
absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

std::string TypeOf(const json& j, absl::string_view where) {
  if (!j.is_object()) throw std::invalid_argument(absl::StrCat(where, " is not an object"));
  if (!j.contains("type") || !j["type"].is_string()) {
    throw std::invalid_argument(absl::StrCat(where, " has no \"type\""));
  }
  return j["type"].get<std::string>();
}

// j[key], or null when absent. (json::value() with a string default trips
// GCC's -Wnull-dereference inside nlohmann's header.)
const json& Field(const json& j, const char* key) {
  static const json* const kNull = new json();
  auto it = j.find(key);
  return it == j.end() ? *kNull : *it;
}

bool BoolOr(const json& j, const char* key, bool fallback) {
  const json& v = Field(j, key);
  return v.is_null() ? fallback : v.get<bool>();
}

absl::Status ParseNormalizer(const json& j, bool* nfc) {
  if (j.is_null()) return absl::OkStatus();
  const std::string type = TypeOf(j, "normalizer");
  if (type == "NFC") {
    *nfc = true;
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    for (const json& step : j.at("normalizers")) {
      if (absl::Status s = ParseNormalizer(step, nfc); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  return Invalid(absl::StrCat("normalizer type '", type, "' is not supported (supported: NFC, Sequence)"));
}

absl::StatusOr<SplitBehavior> ParseBehavior(const json& j) {
  const json& field = Field(j, "behavior");
  const std::string behavior = field.is_null() ? "Isolated" : field.get<std::string>();
  if (behavior == "Isolated") return SplitBehavior::kIsolated;
  if (behavior == "Removed") return SplitBehavior::kRemoved;
  return Invalid(absl::StrCat("Split behavior '", behavior, "' is not supported (supported: Isolated, Removed)"));
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const json& j) {
  const std::string type = TypeOf(j, "pre_tokenizer");
  if (type == "ByteLevel") {
    // HF's defaults: add_prefix_space true, use_regex true.
    return MakeByteLevelPreTokenizer(BoolOr(j, "add_prefix_space", true), BoolOr(j, "use_regex", true));
  }
  if (type == "Split") {
    absl::StatusOr<SplitBehavior> behavior = ParseBehavior(j);
    if (!behavior.ok()) return behavior.status();
    const bool invert = BoolOr(j, "invert", false);
    const json& pattern = j.at("pattern");
    if (pattern.contains("String")) {
      return MakeStringSplit(pattern["String"].get<std::string>(), *behavior, invert);
    }
    const std::string regex = pattern.at("Regex").get<std::string>();
    const std::optional<SplitRegex> known = RecognizeSplitRegex(regex);
    if (!known) {
      return Invalid(absl::StrCat("Split regex '", regex,
                                  "' is not one we implement (GPT-2's, Llama 3's and Qwen2's are)"));
    }
    return MakeRegexSplit(*known, *behavior, invert);
  }
  if (type == "Digits") return MakeDigits(BoolOr(j, "individual_digits", false));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const json& step : j.at("pretokenizers")) {
      absl::StatusOr<std::unique_ptr<PreTokenizer>> parsed = ParsePreTokenizer(step);
      if (!parsed.ok()) return parsed.status();
      steps.push_back(*std::move(parsed));
    }
    return MakeSequence(std::move(steps));
  }
  return Invalid(absl::StrCat("pre_tokenizer type '", type, "' is not supported (supported: ByteLevel, Split, Digits, Sequence)"));
}

absl::StatusOr<DecoderKind> ParseDecoder(const json& j) {
  if (j.is_null()) return DecoderKind::kNone;
  const std::string type = TypeOf(j, "decoder");
  if (type == "ByteLevel") return DecoderKind::kByteLevel;
  if (type == "Sequence") {
    DecoderKind kind = DecoderKind::kNone;
    for (const json& step : j.at("decoders")) {
      absl::StatusOr<DecoderKind> parsed = ParseDecoder(step);
      if (!parsed.ok()) return parsed.status();
      if (*parsed != DecoderKind::kNone) kind = *parsed;
    }
    return kind;
  }
  return Invalid(absl::StrCat("decoder type '", type, "' is not supported (supported: ByteLevel, Sequence)"));
}

absl::StatusOr<std::unique_ptr<BpeModel>> ParseModel(const json& root) {
  if (!root.contains("model") || !root["model"].is_object()) return Invalid("no \"model\" object");
  const json& m = root["model"];
  // HF reads a model without "type" by its fields; BPE is the one with merges.
  const std::string type = m.contains("type") ? m["type"].get<std::string>() : (m.contains("merges") ? "BPE" : "");
  if (type != "BPE") {
    return Invalid(absl::StrCat("model type '", type, "' is not supported (only BPE is)"));
  }
  if (!m.contains("vocab") || !m["vocab"].is_object()) return Invalid("model has no \"vocab\" object");
  if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0) {
    return Invalid("model.dropout is not supported (encoding must be deterministic)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m[key].is_null() && !m[key].get<std::string>().empty()) {
      return Invalid(absl::StrCat("model.", key, " is not supported"));
    }
  }

  std::vector<std::pair<std::string, int32_t>> vocab;
  vocab.reserve(m["vocab"].size());
  for (const auto& [token, id] : m["vocab"].items()) vocab.emplace_back(token, JsonInteger<int32_t>(id, "model.vocab"));

  std::vector<std::pair<std::string, std::string>> merges;
  const json& list = m.contains("merges") ? m["merges"] : json::array();
  merges.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json& merge = list[i];
    if (merge.is_string()) {  // "a b" (older files)
      const std::string s = merge.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        return Invalid(absl::StrCat("merge ", i, " '", s, "' is not two tokens separated by one space"));
      }
      merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2) {  // ["a", "b"] (newer files)
      merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      return Invalid(absl::StrCat("merge ", i, " is neither \"a b\" nor [\"a\", \"b\"]: ", merge.dump()));
    }
  }

  BpeOptions options;
  if (m.contains("unk_token") && !m["unk_token"].is_null()) options.unk_token = m["unk_token"].get<std::string>();
  options.fuse_unk = BoolOr(m, "fuse_unk", false);
  options.byte_fallback = BoolOr(m, "byte_fallback", false);
  options.ignore_merges = BoolOr(m, "ignore_merges", false);
  return BpeModel::Create(std::move(vocab), merges, std::move(options));
}

absl::StatusOr<std::vector<AddedToken>> ParseAddedTokens(const json& root) {
  std::vector<AddedToken> tokens;
  if (!root.contains("added_tokens") || root["added_tokens"].is_null()) return tokens;
  for (const json& t : root["added_tokens"]) {
    AddedToken token;
    token.id = JsonIntegerAt<int32_t>(t, "id");
    token.content = t.at("content").get<std::string>();
    if (token.content.empty()) return Invalid(absl::StrCat("added token ", token.id, " has empty content"));
    token.special = BoolOr(t, "special", false);
    token.lstrip = BoolOr(t, "lstrip", false);
    token.rstrip = BoolOr(t, "rstrip", false);
    token.single_word = BoolOr(t, "single_word", false);
    token.normalized = BoolOr(t, "normalized", !token.special);  // HF's default
    tokens.push_back(std::move(token));
  }
  return tokens;
}

absl::StatusOr<TokenizerParts> ParseParts(const json& root) {
  if (!root.is_object()) return Invalid("top level is not a JSON object");
  TokenizerParts parts;
  absl::StatusOr<std::unique_ptr<BpeModel>> model = ParseModel(root);
  if (!model.ok()) return model.status();
  parts.model = *std::move(model);
  if (absl::Status s = ParseNormalizer(Field(root, "normalizer"), &parts.nfc); !s.ok()) return s;
  const json& pre = Field(root, "pre_tokenizer");
  if (!pre.is_null()) {
    absl::StatusOr<std::unique_ptr<PreTokenizer>> parsed = ParsePreTokenizer(pre);
    if (!parsed.ok()) return parsed.status();
    parts.pre_tokenizer = *std::move(parsed);
  }
  absl::StatusOr<DecoderKind> decoder = ParseDecoder(Field(root, "decoder"));
  if (!decoder.ok()) return decoder.status();
  parts.decoder = *decoder;
  absl::StatusOr<std::vector<AddedToken>> added = ParseAddedTokens(root);
  if (!added.ok()) return added.status();
  parts.added_tokens = *std::move(added);
  // post_processor is ignored on purpose: Encode never adds BOS/EOS.
  return parts;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadUserFile(path);  // through the path policy
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(path, ": cannot open tokenizer file: ", text.status().message()));
  }
  return FromJson(*text, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(absl::string_view json_text,
                                                               const std::string& source_name) {
  absl::StatusOr<TokenizerParts> parts;
  try {
    const json root = json::parse(json_text.begin(), json_text.end());
    parts = ParseParts(root);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": not valid JSON: ", e.what()));
  } catch (const std::exception& e) {  // json type errors, missing keys, our own throws
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": malformed tokenizer.json: ", e.what()));
  }
  if (!parts.ok()) {
    return absl::Status(parts.status().code(), absl::StrCat(source_name, ": ", parts.status().message()));
  }
  return MakeBpeTokenizer(*std::move(parts));
}

}  // namespace tunefleet
