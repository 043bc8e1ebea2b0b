#include "trainer/gguf/gguf_tokenizer.h"

#include <exception>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "trainer/tokenizer/split_regex.h"

namespace tunefleet {
namespace {

using json = nlohmann::ordered_json;

// llama.cpp's token types (llama_token_type / gguf-py TokenType).
constexpr int64_t kTokenNormal = 1;
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

json ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

json RegexSplit(SplitRegex re) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", std::string(SplitRegexPattern(re))}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}

// The pre-tokenizer of the model family llama.cpp's tokenizer.ggml.pre names,
// as that family's own tokenizer.json writes it.
absl::StatusOr<json> PreTokenizerFor(const std::string& pre, const std::string& source) {
  if (pre == "smollm") {
    // SmolLM/SmolLM2: every digit its own piece, then GPT-2's byte level.
    return json{{"type", "Sequence"},
                {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, ByteLevel(true)})}};
  }
  if (pre == "default" || pre == "gpt2") return ByteLevel(true);
  if (pre == "llama-bpe" || pre == "llama3") {
    return json{{"type", "Sequence"}, {"pretokenizers", json::array({RegexSplit(SplitRegex::kLlama3), ByteLevel(false)})}};
  }
  if (pre == "qwen2") {
    return json{{"type", "Sequence"}, {"pretokenizers", json::array({RegexSplit(SplitRegex::kQwen2), ByteLevel(false)})}};
  }
  return absl::InvalidArgumentError(absl::StrCat(source, ": GGUF tokenizer.ggml.pre '", pre,
                                                 "' is not supported (smollm, gpt2/default, llama-bpe, qwen2 are)"));
}

std::optional<int64_t> OptionalId(const GgufFile& file, const std::string& key, size_t vocab) {
  if (!file.Has(key)) return std::nullopt;
  auto id = file.Unsigned(key);
  if (!id.ok() || *id >= vocab) return std::nullopt;
  return static_cast<int64_t>(*id);
}

// Throws what nlohmann::json throws; GgufTokenizer turns it into a status.
absl::StatusOr<GgufTokenizerFiles> BuildTokenizerFiles(const GgufFile& file) {
  const std::string& src = file.source();
  auto model = file.String("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  if (*model != "gpt2") {
    return absl::InvalidArgumentError(absl::StrCat(src, ": GGUF tokenizer.ggml.model '", *model,
                                                   "' is not supported (only byte-level BPE, 'gpt2', is)"));
  }
  auto tokens = file.Strings("tokenizer.ggml.tokens");
  if (!tokens.ok()) return tokens.status();
  auto merges = file.Strings("tokenizer.ggml.merges");
  if (!merges.ok()) return merges.status();
  std::vector<int64_t> types(tokens->size(), kTokenNormal);
  if (file.Has("tokenizer.ggml.token_type")) {
    auto t = file.Ints("tokenizer.ggml.token_type");
    if (!t.ok()) return t.status();
    if (t->size() != tokens->size()) {
      return absl::InvalidArgumentError(absl::StrCat(src, ": GGUF tokenizer.ggml.token_type has ", t->size(),
                                                     " entries for ", tokens->size(), " tokens"));
    }
    types = *std::move(t);
  }
  const std::string pre_name = file.Has("tokenizer.ggml.pre") ? file.String("tokenizer.ggml.pre").value_or("") : "default";
  auto pre = PreTokenizerFor(pre_name, src);
  if (!pre.ok()) return pre.status();

  json vocab = json::object();
  json added = json::array();
  for (size_t id = 0; id < tokens->size(); ++id) {
    const std::string& token = (*tokens)[id];
    if (vocab.contains(token)) {
      return absl::InvalidArgumentError(absl::StrCat(src, ": GGUF token '", token, "' appears twice (id ", id, ")"));
    }
    vocab[token] = id;
    if (types[id] == kTokenControl || types[id] == kTokenUserDefined) {
      added.push_back({{"id", id},
                       {"content", token},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", types[id] == kTokenUserDefined},
                       {"special", types[id] == kTokenControl}});
    }
  }
  json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", *pre},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", *merges}}},
  };

  GgufTokenizerFiles files;
  files.tokenizer_json = tokenizer.dump(1);
  files.bos_token_id = OptionalId(file, "tokenizer.ggml.bos_token_id", tokens->size());
  files.eos_token_id = OptionalId(file, "tokenizer.ggml.eos_token_id", tokens->size());
  files.pad_token_id = OptionalId(file, "tokenizer.ggml.padding_token_id", tokens->size());
  const std::optional<int64_t> unk = OptionalId(file, "tokenizer.ggml.unknown_token_id", tokens->size());

  json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"clean_up_tokenization_spaces", false},
                 {"model_max_length", 8192}};
  if (file.Has("tokenizer.ggml.add_bos_token")) config["add_bos_token"] = file.Bool("tokenizer.ggml.add_bos_token").value_or(false);
  const auto name_of = [&](const std::optional<int64_t>& id) { return (*tokens)[static_cast<size_t>(*id)]; };
  if (files.bos_token_id) config["bos_token"] = name_of(files.bos_token_id);
  if (files.eos_token_id) config["eos_token"] = name_of(files.eos_token_id);
  if (files.pad_token_id) config["pad_token"] = name_of(files.pad_token_id);
  if (unk) config["unk_token"] = name_of(unk);
  if (file.Has("tokenizer.chat_template")) {
    auto chat = file.String("tokenizer.chat_template");
    if (!chat.ok()) return chat.status();
    config["chat_template"] = *chat;
  }
  files.tokenizer_config_json = config.dump(2);
  return files;
}

}  // namespace

absl::StatusOr<GgufTokenizerFiles> GgufTokenizer(const GgufFile& file) {
  // GGUF strings are bytes; JSON strings must be UTF-8, and dump() throws on
  // anything else (found by fuzz/gguf_metadata_fuzz: the exception escaped
  // and aborted the process). A file whose tokens or template are not UTF-8
  // is refused by name instead.
  try {
    return BuildTokenizerFiles(file);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.source(), ": GGUF tokenizer metadata cannot be written as tokenizer.json: ", e.what()));
  }
}

}  // namespace tunefleet
