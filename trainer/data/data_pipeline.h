#pragma once
// From a job's DatasetSpec to packed training and validation sets:
// read JSONL -> hold out validation -> tokenize -> order -> pack.
//
// Every rank runs it whole and gets the same result (it is deterministic in
// the files, the tokenizer and the seed), so ranks agree on the data without
// exchanging it; each then reads its own slice through a BatchSampler.
//
// With packing, the training examples are shuffled by seed before packing,
// once: a file's neighbouring lines (often one source, one topic) would
// otherwise share rows. The packing is then fixed for the whole run (so the
// number of sequences, and steps per epoch, is too); each epoch reshuffles
// the order of the packed sequences (BatchSampler). Validation examples
// keep file order.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/data/example_tokenizer.h"
#include "trainer/data/packer.h"
#include "trainer/tokenizer/tokenizer.h"
#include "tunefleet/v1/job_spec.pb.h"

namespace tunefleet {

struct DataPipelineOptions {
  std::string train_path;
  std::string validation_path;       // empty: hold out validation_fraction
  double validation_fraction = 0;    // of the training file's records
  v1::DatasetFormat format = v1::DATASET_FORMAT_UNSPECIFIED;
  int32_t sequence_length = 512;
  bool packing = true;
  uint64_t seed = 0;
  ExampleTokenizerOptions tokens;    // chat template, EOS/BOS overrides

  // The options a job spec asks for (its defaults already applied, as
  // common/job_spec_defaults does; an unset packing means true).
  static DataPipelineOptions FromSpec(const v1::DatasetSpec& dataset, const v1::HyperParameters& hp);
};

struct TrainingData {
  v1::DatasetFormat format = v1::DATASET_FORMAT_UNSPECIFIED;  // as given or detected
  int64_t train_records = 0;
  int64_t validation_records = 0;
  PackedDataset train;
  std::optional<PackedDataset> validation;  // absent when none was asked for

  // One paragraph for the trainer's log.
  std::string Summary() const;
};

// Errors: NOT_FOUND for a missing file, INVALID_ARGUMENT naming file:line
// for a bad line or a validation file in another format,
// FAILED_PRECONDITION for a tokenizer without a needed special token or a
// training file with no examples.
absl::StatusOr<TrainingData> LoadTrainingData(const DataPipelineOptions& options, const Tokenizer& tokenizer);

}  // namespace tunefleet
