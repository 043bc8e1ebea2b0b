#pragma once
// Plain-text tables in the kubectl style: upper-case headers, columns padded
// to their widest cell, three spaces between columns, no borders.

#include <string>
#include <vector>

namespace tunefleet::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "Key:   value" lines, keys padded to the widest (for `get`).
std::string RenderKeyValues(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace tunefleet::cli
