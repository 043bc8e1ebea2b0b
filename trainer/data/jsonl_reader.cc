#include "trainer/data/jsonl_reader.h"

#include <algorithm>
#include <fstream>
#include <istream>
#include <streambuf>
#include <utility>

#include <ext/stdio_filebuf.h>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fs/process_path_policy.h"

namespace tunefleet {
namespace {

using json = nlohmann::json;

absl::Status LineError(const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::Status LineTooLong(const std::string& source, int64_t line_number, size_t max_line_bytes) {
  return LineError(absl::StrCat(source, ":", line_number),
                   absl::StrCat("line is longer than the limit of ", max_line_bytes,
                                " bytes (one line is one example)"));
}

// std::getline with a bound: reads one line into `line` (without its '\n'),
// or stops after max_bytes + 1 bytes and sets `too_long`. False at the end of
// the stream when nothing was read.
bool ReadBoundedLine(std::istream& in, size_t max_bytes, std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      return any;
    }
    any = true;
    if (c == '\n') return true;
    if (line.size() == max_bytes) {
      too_long = true;
      return true;
    }
    line.push_back(static_cast<char>(c));
  }
}

// "keys a, b, c" of an object, so an error shows what the line does have.
std::string KeysOf(const json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(absl::StrCat("\"", it.key(), "\""));
  if (keys.empty()) return "no keys";
  return absl::StrCat("keys ", absl::StrJoin(keys, ", "));
}

absl::StatusOr<std::string> StringField(const json& object, const char* key, const std::string& field_name,
                                        const std::string& where, v1::DatasetFormat format) {
  auto it = object.find(key);
  if (it == object.end()) {
    return LineError(where, absl::StrCat("missing key \"", key, "\" (", DatasetFormatName(format),
                                         " format; the line has ", KeysOf(object), ")"));
  }
  if (!it->is_string()) {
    return LineError(where, absl::StrCat(field_name, " must be a string, got ", it->type_name()));
  }
  return it->get<std::string>();
}

absl::StatusOr<ChatRole> ParseRole(const std::string& role, const std::string& field, const std::string& where) {
  if (role == "system") return ChatRole::kSystem;
  if (role == "user") return ChatRole::kUser;
  if (role == "assistant") return ChatRole::kAssistant;
  return LineError(where, absl::StrCat(field, ": unknown role \"", role, "\" (expected system, user or assistant)"));
}

absl::StatusOr<std::vector<ChatMessage>> ParseMessages(const json& object, const std::string& where) {
  auto it = object.find("messages");
  if (it == object.end()) {
    return LineError(where, absl::StrCat("missing key \"messages\" (chat format; the line has ", KeysOf(object), ")"));
  }
  if (!it->is_array()) return LineError(where, absl::StrCat("messages must be an array, got ", it->type_name()));
  if (it->empty()) return LineError(where, "messages is empty");
  std::vector<ChatMessage> messages;
  messages.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string name = absl::StrCat("messages[", i, "]");
    if (!m.is_object()) return LineError(where, absl::StrCat(name, " must be an object, got ", m.type_name()));
    absl::StatusOr<std::string> role =
        StringField(m, "role", name + ".role", where, v1::DATASET_FORMAT_CHAT);
    if (!role.ok()) return role.status();
    absl::StatusOr<ChatRole> parsed_role = ParseRole(*role, name + ".role", where);
    if (!parsed_role.ok()) return parsed_role.status();
    absl::StatusOr<std::string> content =
        StringField(m, "content", name + ".content", where, v1::DATASET_FORMAT_CHAT);
    if (!content.ok()) return content.status();
    messages.push_back(ChatMessage{*parsed_role, *std::move(content)});
  }
  return messages;
}

// The format a line is written in, judged by its keys ("messages" wins over
// "prompt", which wins over "text", as the forms do not mix in practice).
absl::StatusOr<v1::DatasetFormat> DetectFormat(const json& object, const std::string& where) {
  if (object.contains("messages")) return v1::DATASET_FORMAT_CHAT;
  if (object.contains("prompt") || object.contains("completion")) return v1::DATASET_FORMAT_PROMPT_COMPLETION;
  if (object.contains("text")) return v1::DATASET_FORMAT_TEXT;
  return LineError(where, absl::StrCat("cannot detect the dataset format: expected key \"text\", \"prompt\" and "
                                       "\"completion\", or \"messages\"; the line has ",
                                       KeysOf(object)));
}

// Parses line after line, detecting the format on the first non-blank one.
class LineParser {
 public:
  LineParser(std::string source_name, v1::DatasetFormat format)
      : source_name_(std::move(source_name)), format_(format) {}

  absl::Status Add(absl::string_view raw_line, int64_t line_number) {
    absl::string_view line = absl::StripAsciiWhitespace(raw_line);  // also drops a CRLF's '\r'
    if (line.empty()) return absl::OkStatus();
    const std::string where = absl::StrCat(source_name_, ":", line_number);
    json object;
    try {
      object = json::parse(line.begin(), line.end());
    } catch (const json::exception& e) {
      return LineError(where, absl::StrCat("not valid JSON: ", e.what()));
    }
    if (!object.is_object()) {
      return LineError(where, absl::StrCat("expected a JSON object, got ", object.type_name()));
    }
    if (format_ == v1::DATASET_FORMAT_UNSPECIFIED) {
      absl::StatusOr<v1::DatasetFormat> detected = DetectFormat(object, where);
      if (!detected.ok()) return detected.status();
      format_ = *detected;
    }
    DatasetRecord record;
    record.format = format_;
    record.source = where;
    if (auto task = object.find("task"); task != object.end()) {
      const bool valid = task->is_string() && !task->get_ref<const std::string&>().empty() &&
                         task->get_ref<const std::string&>().size() <= kMaxTaskNameBytes &&
                         std::all_of(task->get_ref<const std::string&>().begin(),
                                     task->get_ref<const std::string&>().end(), [](char c) {
                                       return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                              c == '-' || c == '.';
                                     });
      if (!valid) {
        return LineError(where, absl::StrCat("\"task\" must be a name of 1 to ", kMaxTaskNameBytes,
                                             " characters from [A-Za-z0-9_.-]"));
      }
      record.task = task->get<std::string>();
    }
    switch (format_) {
      case v1::DATASET_FORMAT_TEXT: {
        absl::StatusOr<std::string> text = StringField(object, "text", "text", where, format_);
        if (!text.ok()) return text.status();
        record.text = *std::move(text);
        break;
      }
      case v1::DATASET_FORMAT_PROMPT_COMPLETION: {
        absl::StatusOr<std::string> prompt = StringField(object, "prompt", "prompt", where, format_);
        if (!prompt.ok()) return prompt.status();
        absl::StatusOr<std::string> completion = StringField(object, "completion", "completion", where, format_);
        if (!completion.ok()) return completion.status();
        record.prompt = *std::move(prompt);
        record.completion = *std::move(completion);
        break;
      }
      case v1::DATASET_FORMAT_CHAT: {
        absl::StatusOr<std::vector<ChatMessage>> messages = ParseMessages(object, where);
        if (!messages.ok()) return messages.status();
        record.messages = *std::move(messages);
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat(source_name_, ": unknown dataset format ", format_));
    }
    records_.push_back(std::move(record));
    return absl::OkStatus();
  }

  std::vector<DatasetRecord> TakeRecords() { return std::move(records_); }

 private:
  std::string source_name_;
  v1::DatasetFormat format_;
  std::vector<DatasetRecord> records_;
};

}  // namespace

const char* DatasetFormatName(v1::DatasetFormat format) {
  switch (format) {
    case v1::DATASET_FORMAT_TEXT:
      return "text";
    case v1::DATASET_FORMAT_PROMPT_COMPLETION:
      return "prompt/completion";
    case v1::DATASET_FORMAT_CHAT:
      return "chat";
    default:
      return "unspecified";
  }
}

const char* ChatRoleName(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem:
      return "system";
    case ChatRole::kUser:
      return "user";
    case ChatRole::kAssistant:
      return "assistant";
  }
  return "unknown";
}

absl::StatusOr<std::vector<DatasetRecord>> ParseJsonl(absl::string_view contents, const std::string& source_name,
                                                      v1::DatasetFormat format, size_t max_line_bytes) {
  LineParser parser(source_name, format);
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    if (line.size() > max_line_bytes) return LineTooLong(source_name, line_number, max_line_bytes);
    absl::Status status = parser.Add(line, line_number);
    if (!status.ok()) return status;
  }
  return parser.TakeRecords();
}

absl::StatusOr<std::vector<DatasetRecord>> ReadJsonlFile(const std::string& path, v1::DatasetFormat format,
                                                         size_t max_line_bytes) {
  // Line by line, so a large file is never held twice (as text and as records).
  // Through the path policy: beneath the allowed roots, a regular file (never
  // a FIFO or a device that would hang or never end).
  absl::StatusOr<UniqueFd> fd = OpenUserFile(path);
  if (!fd.ok()) {
    return absl::Status(fd.status().code(), absl::StrCat(path, ": cannot open the dataset file: ", fd.status().message()));
  }
  __gnu_cxx::stdio_filebuf<char> file(fd->release(), std::ios::in | std::ios::binary);  // owns and closes it
  std::istream in(&file);
  LineParser parser(path, format);
  std::string line;
  int64_t line_number = 0;
  bool too_long = false;
  while (ReadBoundedLine(in, max_line_bytes, line, too_long)) {
    ++line_number;
    if (too_long) return LineTooLong(path, line_number, max_line_bytes);
    absl::Status status = parser.Add(line, line_number);
    if (!status.ok()) return status;
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error after line ", line_number));
  return parser.TakeRecords();
}

}  // namespace tunefleet
