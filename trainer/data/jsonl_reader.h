#pragma once
// Reads a JSONL dataset: one JSON object per line, in one of three forms
//   {"text": "..."}
//   {"prompt": "...", "completion": "..."}
//   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
// Blank lines are skipped; keys other than the format's are ignored (datasets
// often carry ids or metadata). Any other deviation is an INVALID_ARGUMENT
// error naming "file:line" and what is wrong: a dataset with a bad line is
// refused whole rather than trained on silently minus that line.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trainer/data/dataset_record.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

// The longest line (one example) read, in bytes; a longer line is refused
// with its file and line number before it is parsed or even read whole, so a
// file without newlines cannot make the reader hold gigabytes. 32 MiB is
// millions of tokens, beyond the longest sequence_length a spec may ask for.
inline constexpr size_t kMaxJsonlLineBytes = size_t{32} << 20;

// Parses the text of a JSONL file; `source_name` names it in errors and in
// each record's `source`. With DATASET_FORMAT_UNSPECIFIED the format is
// detected from the first non-blank line and every later line must match it.
absl::StatusOr<std::vector<DatasetRecord>> ParseJsonl(absl::string_view contents,
                                                      const std::string& source_name,
                                                      v1::DatasetFormat format,
                                                      size_t max_line_bytes = kMaxJsonlLineBytes);

// As ParseJsonl, from the file at `path` (NOT_FOUND if it cannot be read).
absl::StatusOr<std::vector<DatasetRecord>> ReadJsonlFile(const std::string& path,
                                                         v1::DatasetFormat format,
                                                         size_t max_line_bytes = kMaxJsonlLineBytes);

// "text", "prompt/completion", "chat" (for messages and logs).
const char* DatasetFormatName(v1::DatasetFormat format);

}  // namespace tunefleet
