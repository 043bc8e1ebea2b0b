#include "common/job_spec_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/job_spec_limits.h"

namespace tunefleet {
namespace {

namespace pb = google::protobuf;

// "FineTuneMethod" -> "FINE_TUNE_METHOD_"
std::string EnumValuePrefix(const pb::EnumDescriptor& e) {
  std::string out;
  for (char c : e.name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '_';
    out += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  return out + "_";
}

const pb::EnumValueDescriptor* FindEnumValue(const pb::EnumDescriptor& e, absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  if (const auto* v = e.FindValueByName(upper)) return v;
  if (const auto* v = e.FindValueByName(EnumValuePrefix(e) + upper)) return v;
  return nullptr;
}

std::string EnumChoices(const pb::EnumDescriptor& e) {
  const std::string prefix = EnumValuePrefix(e);
  std::string out;
  for (int i = 1; i < e.value_count(); ++i) {  // 0 is UNSPECIFIED
    std::string name = e.value(i)->name();
    if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    absl::StrAppend(&out, out.empty() ? "" : ", ", absl::AsciiStrToLower(name));
  }
  return out;
}

const pb::FieldDescriptor* FindField(const pb::Descriptor& d, absl::string_view key) {
  if (const auto* f = d.FindFieldByName(std::string(key))) return f;
  if (const auto* f = d.FindFieldByCamelcaseName(std::string(key))) return f;
  return nullptr;
}

class YamlToProto {
 public:
  explicit YamlToProto(absl::string_view source) : source_(source) {}

  absl::Status Message(const YAML::Node& node, pb::Message& msg, const std::string& path) {
    if (node.IsNull()) return absl::OkStatus();
    if (!node.IsMap()) return Error(node, path, "expected a mapping of fields");
    const pb::Descriptor& d = *msg.GetDescriptor();
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string field_path = path.empty() ? key : absl::StrCat(path, ".", key);
      const pb::FieldDescriptor* f = FindField(d, key);
      if (f == nullptr) {
        std::string known;
        for (int i = 0; i < d.field_count(); ++i)
          absl::StrAppend(&known, i ? ", " : "", d.field(i)->name());
        return Error(kv.first, field_path,
                     absl::StrCat("unknown field (", d.full_name(), " has: ", known, ")"));
      }
      if (auto s = Field(kv.second, msg, *f, field_path); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Field(const YAML::Node& node, pb::Message& msg, const pb::FieldDescriptor& f,
                     const std::string& path) {
    if (f.is_map()) return Error(node, path, "map fields are not supported in job specs");
    if (f.is_repeated()) {
      if (node.IsNull()) return absl::OkStatus();
      if (!node.IsSequence()) return Error(node, path, "expected a list");
      for (std::size_t i = 0; i < node.size(); ++i) {
        if (auto s = Value(node[i], msg, f, absl::StrCat(path, "[", i, "]")); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    return Value(node, msg, f, path);
  }

  absl::Status Value(const YAML::Node& node, pb::Message& msg, const pb::FieldDescriptor& f,
                     const std::string& path) {
    const pb::Reflection& r = *msg.GetReflection();
    const bool rep = f.is_repeated();
    if (f.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      pb::Message* sub = rep ? r.AddMessage(&msg, &f) : r.MutableMessage(&msg, &f);
      return Message(node, *sub, path);
    }
    if (!node.IsScalar()) return Error(node, path, "expected a single value");
    const std::string text = node.Scalar();
    switch (f.cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        rep ? r.AddString(&msg, &f, text) : r.SetString(&msg, &f, text);
        return absl::OkStatus();
      case pb::FieldDescriptor::CPPTYPE_BOOL: {
        bool v;
        if (!absl::SimpleAtob(text, &v)) return Error(node, path, "expected true or false, got '" + text + "'");
        rep ? r.AddBool(&msg, &f, v) : r.SetBool(&msg, &f, v);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_INT32: {
        int32_t v;
        if (!absl::SimpleAtoi(text, &v)) return Error(node, path, "expected an integer, got '" + text + "'");
        rep ? r.AddInt32(&msg, &f, v) : r.SetInt32(&msg, &f, v);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(text, &v)) return Error(node, path, "expected an integer, got '" + text + "'");
        rep ? r.AddInt64(&msg, &f, v) : r.SetInt64(&msg, &f, v);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t v;
        if (!absl::SimpleAtoi(text, &v)) return Error(node, path, "expected a non-negative integer, got '" + text + "'");
        rep ? r.AddUInt32(&msg, &f, v) : r.SetUInt32(&msg, &f, v);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v;
        if (!absl::SimpleAtoi(text, &v)) return Error(node, path, "expected a non-negative integer, got '" + text + "'");
        rep ? r.AddUInt64(&msg, &f, v) : r.SetUInt64(&msg, &f, v);
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      case pb::FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(text, &v)) return Error(node, path, "expected a number, got '" + text + "'");
        if (f.cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
          rep ? r.AddFloat(&msg, &f, static_cast<float>(v)) : r.SetFloat(&msg, &f, static_cast<float>(v));
        } else {
          rep ? r.AddDouble(&msg, &f, v) : r.SetDouble(&msg, &f, v);
        }
        return absl::OkStatus();
      }
      case pb::FieldDescriptor::CPPTYPE_ENUM: {
        const pb::EnumValueDescriptor* v = FindEnumValue(*f.enum_type(), text);
        if (v == nullptr) {
          return Error(node, path, absl::StrCat("unknown value '", text, "' (one of: ",
                                                EnumChoices(*f.enum_type()), ")"));
        }
        rep ? r.AddEnum(&msg, &f, v) : r.SetEnum(&msg, &f, v);
        return absl::OkStatus();
      }
      default:
        return Error(node, path, "unsupported field type");
    }
  }

  absl::Status Error(const YAML::Node& node, const std::string& path, const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", node.Mark().line + 1, ": ", path, ": ", what));
  }

  std::string source_;
};

}  // namespace

absl::StatusOr<v1::JobSpec> ParseJobSpec(absl::string_view text, absl::string_view source_name) {
  // Bounded before yaml-cpp builds a node tree of it (many times the text's
  // size); the parsed spec has its own, smaller limit (ValidateJobSpec).
  if (static_cast<int64_t>(text.size()) > job_spec_limits::kMaxSpecTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", text.size(),
                                                   " bytes, more than the limit of ",
                                                   job_spec_limits::kMaxSpecTextBytes, " for a job spec file"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": not valid YAML or JSON: ", e.msg));
  }
  v1::JobSpec spec;
  YamlToProto converter(source_name);
  try {
    if (auto s = converter.Message(root, spec, ""); !s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", e.mark.line + 1, ": ", e.msg));
  }
  return spec;
}

absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open job spec file ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseJobSpec(buffer.str(), path);
}

absl::Status ApplyJobSpecOverride(v1::JobSpec& spec, absl::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("override '", assignment, "' must look like key.path=value"));
  }
  // Build the nested YAML for one key path and merge it in.
  const std::vector<std::string> keys = absl::StrSplit(assignment.substr(0, eq), '.');
  std::string value(assignment.substr(eq + 1));
  YAML::Node leaf;
  try {
    leaf = YAML::Load(value.empty() ? "\"\"" : value);
  } catch (const YAML::Exception&) {
    leaf = YAML::Node(value);
  }
  YAML::Node root(YAML::NodeType::Map);
  YAML::Node cursor = root;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    cursor[keys[i]] = YAML::Node(YAML::NodeType::Map);
    cursor.reset(cursor[keys[i]]);  // operator= would overwrite, not rebind
  }
  cursor[keys.back()] = leaf;
  YAML::Emitter out;
  out << YAML::Flow << root;
  auto patch = ParseJobSpec(out.c_str(), absl::StrCat("--set ", assignment));
  if (!patch.ok()) return patch.status();
  // MergeFrom skips proto3 zero values and appends to lists: clear the leaf first.
  pb::Message* parent = &spec;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const pb::FieldDescriptor* f = FindField(*parent->GetDescriptor(), keys[i]);
    if (f == nullptr) break;  // ParseJobSpec already accepted the path
    if (i + 1 == keys.size()) {
      parent->GetReflection()->ClearField(parent, f);
    } else {
      parent = parent->GetReflection()->MutableMessage(parent, f);
    }
  }
  spec.MergeFrom(*patch);
  return absl::OkStatus();
}

std::string JobSpecToJson(const v1::JobSpec& spec) {
  std::string out;
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(spec, &out, options);
  return out;
}

}  // namespace tunefleet

namespace tunefleet {

void ResolveJobSpecPaths(v1::JobSpec& spec, const std::string& base_dir) {
  auto resolve = [&base_dir](std::string* path) {
    if (path->empty() || (*path)[0] == '/') return;
    *path = base_dir + "/" + *path;
  };
  resolve(spec.mutable_model()->mutable_path());
  resolve(spec.mutable_dataset()->mutable_path());
  resolve(spec.mutable_dataset()->mutable_validation_path());
  for (auto& task : *spec.mutable_dataset()->mutable_tasks()) {
    resolve(task.mutable_path());
    resolve(task.mutable_validation_path());
  }
  resolve(spec.mutable_checkpoint()->mutable_directory());
  resolve(spec.mutable_export_()->mutable_directory());
  if (spec.evaluation().has_after_training()) {
    auto& after = *spec.mutable_evaluation()->mutable_after_training();
    resolve(after.mutable_data_path());
    resolve(after.mutable_baseline_model());
    resolve(after.mutable_baseline_adapter());
  }
}

absl::StatusOr<v1::JobSpec> LoadJobSpecWithOverrides(const std::string& path,
                                                     const std::vector<std::string>& overrides) {
  absl::StatusOr<v1::JobSpec> spec = LoadJobSpecFile(path);
  if (!spec.ok()) return spec.status();
  for (const std::string& assignment : overrides) {
    if (absl::Status status = ApplyJobSpecOverride(*spec, assignment); !status.ok()) {
      return absl::Status(status.code(), absl::StrCat("--set ", assignment, ": ", status.message()));
    }
  }
  std::error_code error;
  const std::filesystem::path file = std::filesystem::absolute(path, error);
  if (error) return absl::InvalidArgumentError(absl::StrCat("job spec file ", path, ": ", error.message()));
  ResolveJobSpecPaths(*spec, file.parent_path().string());
  return spec;
}

}  // namespace tunefleet
