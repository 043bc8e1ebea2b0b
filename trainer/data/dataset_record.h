#pragma once
// One line of a JSONL dataset, parsed but not yet tokenized.

#include <cstdint>
#include <string>
#include <vector>

#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

enum class ChatRole { kSystem, kUser, kAssistant };

// "system", "user" or "assistant": the spelling the templates render.
const char* ChatRoleName(ChatRole role);

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::string content;
};

// Only the fields of `format` are set. `source` is "file:line", so that a
// later stage (tokenization) can still say which line an example came from.
struct DatasetRecord {
  v1::DatasetFormat format = v1::DATASET_FORMAT_UNSPECIFIED;
  std::string text;                    // DATASET_FORMAT_TEXT
  std::string prompt;                  // DATASET_FORMAT_PROMPT_COMPLETION
  std::string completion;              // DATASET_FORMAT_PROMPT_COMPLETION
  std::vector<ChatMessage> messages;   // DATASET_FORMAT_CHAT
  std::string source;
  // The record's optional "task" key (A/B evaluation reports per task):
  // [A-Za-z0-9_.-], at most kMaxTaskNameBytes; empty when absent.
  std::string task;
};

inline constexpr size_t kMaxTaskNameBytes = 64;

}  // namespace tunefleet
