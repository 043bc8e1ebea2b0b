#include "trainer/data/data_pipeline.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "trainer/data/jsonl_reader.h"
#include "trainer/data/shuffle.h"
#include "trainer/data/validation_split.h"

namespace tunefleet {
namespace {

absl::StatusOr<std::vector<TokenizedExample>> TokenizeAll(const ExampleTokenizer& tokenizer,
                                                          const std::vector<DatasetRecord>& records,
                                                          const std::vector<int64_t>& order) {
  std::vector<TokenizedExample> examples;
  examples.reserve(order.size());
  for (int64_t i : order) {
    absl::StatusOr<TokenizedExample> ex = tokenizer.Tokenize(records[static_cast<size_t>(i)]);
    if (!ex.ok()) return ex.status();
    examples.push_back(*std::move(ex));
  }
  return examples;
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

}  // namespace

DataPipelineOptions DataPipelineOptions::FromSpec(const v1::DatasetSpec& dataset, const v1::HyperParameters& hp) {
  DataPipelineOptions o;
  o.train_path = dataset.path();
  o.validation_path = dataset.validation_path();
  o.validation_fraction = dataset.validation_fraction();
  o.format = dataset.format();
  o.tokens.chat_template = dataset.chat_template();
  o.packing = !dataset.has_packing() || dataset.packing();
  o.sequence_length = hp.sequence_length() > 0 ? hp.sequence_length() : 512;
  o.seed = hp.seed();
  return o;
}

std::string TrainingData::Summary() const {
  std::string s = absl::StrCat("dataset (", DatasetFormatName(format), "): training ", train_records, " records, ",
                               train.stats().ToString());
  if (validation.has_value()) {
    absl::StrAppend(&s, "; validation ", validation_records, " records, ", validation->stats().ToString());
  }
  return s;
}

absl::StatusOr<TrainingData> LoadTrainingData(const DataPipelineOptions& options, const Tokenizer& tokenizer) {
  absl::StatusOr<std::vector<DatasetRecord>> records = ReadJsonlFile(options.train_path, options.format);
  if (!records.ok()) return records.status();
  if (records->empty()) {
    return absl::FailedPreconditionError(absl::StrCat(options.train_path, ": the dataset has no examples"));
  }
  TrainingData data;
  data.format = records->front().format;

  std::vector<DatasetRecord> validation_records;
  std::vector<int64_t> train_indices;
  if (!options.validation_path.empty()) {
    // The validation file must be in the training file's format: one tokenizer serves both.
    absl::StatusOr<std::vector<DatasetRecord>> v = ReadJsonlFile(options.validation_path, data.format);
    if (!v.ok()) return v.status();
    validation_records = *std::move(v);
    train_indices = Iota(static_cast<int64_t>(records->size()));
  } else if (options.validation_fraction > 0) {
    SplitIndices split = HoldOut(static_cast<int64_t>(records->size()), options.validation_fraction, options.seed);
    for (int64_t i : split.validation) validation_records.push_back((*records)[static_cast<size_t>(i)]);
    train_indices = std::move(split.train);
  } else {
    train_indices = Iota(static_cast<int64_t>(records->size()));
  }
  data.train_records = static_cast<int64_t>(train_indices.size());
  data.validation_records = static_cast<int64_t>(validation_records.size());

  absl::StatusOr<ExampleTokenizer> example_tokenizer = ExampleTokenizer::Create(tokenizer, data.format, options.tokens);
  if (!example_tokenizer.ok()) return example_tokenizer.status();

  // The packing order: a seeded shuffle of the training records (see the header).
  std::vector<int64_t> order = train_indices;
  if (options.packing) {
    const std::vector<int64_t> perm =
        RandomPermutation(static_cast<int64_t>(order.size()), DeriveSeed(options.seed, kSeedPurposePackingOrder));
    for (size_t i = 0; i < perm.size(); ++i) order[i] = train_indices[static_cast<size_t>(perm[i])];
  }
  const PackingOptions packing{options.sequence_length, options.packing};
  {
    absl::StatusOr<std::vector<TokenizedExample>> examples = TokenizeAll(*example_tokenizer, *records, order);
    if (!examples.ok()) return examples.status();
    absl::StatusOr<PackedDataset> train = PackedDataset::Build(*examples, packing);
    if (!train.ok()) return train.status();
    data.train = *std::move(train);
  }
  if (data.train.num_sequences() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        options.train_path, ": no example has a token to train on (", data.train.stats().ToString(), ")"));
  }
  if (!validation_records.empty()) {
    absl::StatusOr<std::vector<TokenizedExample>> examples =
        TokenizeAll(*example_tokenizer, validation_records, Iota(static_cast<int64_t>(validation_records.size())));
    if (!examples.ok()) return examples.status();
    absl::StatusOr<PackedDataset> validation = PackedDataset::Build(*examples, packing);
    if (!validation.ok()) return validation.status();
    data.validation = *std::move(validation);
  }
  return data;
}

}  // namespace tunefleet
