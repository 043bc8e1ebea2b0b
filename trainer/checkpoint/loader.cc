#include "trainer/checkpoint/loader.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "trainer/checkpoint/checksummed_io.h"
#include "trainer/checkpoint/encrypted_files.h"
#include "trainer/checkpoint/flat_reslice.h"
#include "trainer/safetensors/safetensors_reader.h"
#include "trainer/safetensors/safetensors_torch.h"

namespace tunefleet {
namespace {

// Checksum first (the bytes on disk, no key needed), then decryption
// (which authenticates every chunk) when the checkpoint is encrypted.
absl::StatusOr<std::unique_ptr<SafetensorsFile>> OpenVerified(const CommittedCheckpoint& checkpoint,
                                                             const std::string& name, const crypto::KeyRing* keys) {
  if (absl::Status s = VerifyCheckpointFiles(checkpoint, {name}); !s.ok()) return s;
  const std::string path = absl::StrCat(checkpoint.dir, "/", name);
  if (keys == nullptr) {
    if (absl::Status s = CheckEncryptionForm(path, keys); !s.ok()) return s;
    return SafetensorsFile::Open(path);
  }
  absl::StatusOr<int> fd = OpenPlaintext(path, keys, CheckpointFileContext(checkpoint.manifest.save_id, name));
  if (!fd.ok()) return fd.status();
  // The mapping keeps the memory file alive once its descriptor is closed.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::OpenFd(*fd, path + " (decrypted)");
  ::close(*fd);
  if (!file.ok()) return file.status();
  return file;
}

absl::StatusOr<std::vector<std::pair<std::string, torch::Tensor>>> LoadWeights(const CommittedCheckpoint& checkpoint,
                                                                               const crypto::KeyRing* keys) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenVerified(checkpoint, kModelWeightsFileName, keys);
  if (!file.ok()) return file.status();
  std::vector<std::pair<std::string, torch::Tensor>> weights;
  for (const TensorView& view : (*file)->tensors()) {
    absl::StatusOr<torch::Tensor> tensor = ToTorch(view);
    if (!tensor.ok()) return tensor.status();
    weights.emplace_back(view.name, *std::move(tensor));
  }
  return weights;
}

absl::StatusOr<TrainerState> LoadTrainerState(const CommittedCheckpoint& checkpoint, int rank,
                                              const crypto::KeyRing* keys) {
  const std::string name = TrainerStateFileName(rank);
  if (absl::Status s = VerifyCheckpointFiles(checkpoint, {name}); !s.ok()) return s;
  const std::string path = absl::StrCat(checkpoint.dir, "/", name);
  absl::StatusOr<std::string> text =
      ReadPlaintextFile(path, keys, CheckpointFileContext(checkpoint.manifest.save_id, name));
  if (!text.ok()) return text.status();
  return TrainerStateFromJson(*text, path);
}

// The three state tensors and AdamW's step count of one saved shard.
struct SavedShard {
  OptimizerShardRecord record;
  int64_t adamw_step = 0;
  torch::Tensor master, exp_avg, exp_avg_sq;
};

absl::StatusOr<SavedShard> ReadShard(const CommittedCheckpoint& checkpoint, const OptimizerShardRecord& record,
                                     const crypto::KeyRing* keys) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenVerified(checkpoint, record.file, keys);
  if (!file.ok()) return file.status();
  SavedShard shard;
  shard.record = record;
  const auto& metadata = (*file)->metadata();
  const auto step = metadata.find("adamw_step");
  if (step == metadata.end() || !absl::SimpleAtoi(step->second, &shard.adamw_step)) {
    return absl::DataLossError(absl::StrCat((*file)->path(), ": no adamw_step in the metadata"));
  }
  const TensorExpectation expect{torch::kFloat32, std::vector<int64_t>{record.end - record.begin}};
  const std::pair<const char*, torch::Tensor*> targets[] = {
      {"master", &shard.master}, {"exp_avg", &shard.exp_avg}, {"exp_avg_sq", &shard.exp_avg_sq}};
  for (const auto& [name, out] : targets) {
    absl::StatusOr<const TensorView*> view = (*file)->Get(name);
    if (!view.ok()) return view.status();
    absl::StatusOr<torch::Tensor> tensor = ToTorch(**view, expect);
    if (!tensor.ok()) return tensor.status();
    *out = *std::move(tensor);
  }
  return shard;
}

absl::StatusOr<OptimizerShardState> LoadOptimizerRange(const CommittedCheckpoint& checkpoint,
                                                       const ResumeRequest& request, bool* resliced) {
  const std::vector<OptimizerShardRecord>& records = checkpoint.manifest.optimizer_shards;
  if (records.empty()) return absl::NotFoundError(absl::StrCat(checkpoint.dir, ": no optimizer shards"));
  const int64_t numel = records.front().numel;
  OptimizerShardState out;
  out.numel = numel;
  out.padded_numel = request.padded_numel > 0 ? request.padded_numel : PaddedFlatNumel(numel, request.world_size);
  if (out.padded_numel < numel || out.padded_numel % request.world_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("padded numel ", out.padded_numel, " does not hold ", numel,
                                                   " elements in ", request.world_size, " equal shards"));
  }
  // ZeRO stage 0 (and one process): every rank holds the whole range.
  const FlatRange target = request.whole_optimizer ? FlatRange{0, out.padded_numel}
                                                   : ShardRangeForRank(out.padded_numel, request.world_size, request.rank);
  out.begin = target.begin;
  out.end = target.end;

  // Only the shards overlapping the real part of the range: each is
  // verified and read; the others are never touched.
  const int64_t real_end = std::min(target.end, numel);
  std::vector<SavedShard> shards;
  for (const OptimizerShardRecord& record : records) {
    if (record.numel != numel) {
      return absl::DataLossError(absl::StrCat(checkpoint.dir, "/", record.file, ": ", record.numel,
                                              " real elements, another shard says ", numel));
    }
    if (record.end <= target.begin || record.begin >= real_end) continue;
    absl::StatusOr<SavedShard> shard = ReadShard(checkpoint, record, request.encryption);
    if (!shard.ok()) return shard.status();
    shards.push_back(*std::move(shard));
  }
  *resliced = !(shards.size() == 1 && shards[0].record.begin == target.begin && shards[0].record.end == target.end);
  out.adamw_step = shards.empty() ? 0 : shards[0].adamw_step;
  for (const SavedShard& shard : shards) {
    if (shard.adamw_step != out.adamw_step) {
      return absl::DataLossError(absl::StrCat(checkpoint.dir, ": shards disagree on the AdamW step (",
                                              shard.adamw_step, " in ", shard.record.file, ", ", out.adamw_step,
                                              " elsewhere)"));
    }
  }
  const std::pair<torch::Tensor SavedShard::*, torch::Tensor*> targets[] = {
      {&SavedShard::master, &out.master}, {&SavedShard::exp_avg, &out.exp_avg},
      {&SavedShard::exp_avg_sq, &out.exp_avg_sq}};
  for (const auto& [member, out_tensor] : targets) {
    std::vector<FlatShard> flat;
    for (const SavedShard& shard : shards) {
      flat.push_back(FlatShard{shard.record.begin, shard.record.end, shard.*member});
    }
    if (flat.empty()) {  // a range wholly in the padding
      *out_tensor = torch::zeros({target.size()}, torch::kFloat32);
      continue;
    }
    absl::StatusOr<torch::Tensor> slice = ResliceFlatRange(flat, numel, target);
    if (!slice.ok()) {
      return absl::Status(slice.status().code(), absl::StrCat(checkpoint.dir, ": ", slice.status().message()));
    }
    *out_tensor = *std::move(slice);
  }
  return out;
}

absl::Status CheckRequest(const ResumeRequest& request) {
  if (request.world_size < 1 || request.rank < 0 || request.rank >= request.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", request.rank, " of world size ", request.world_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadedCheckpoint> Load(const CommittedCheckpoint& checkpoint, const ResumeRequest& request) {
  if (absl::Status s = CheckRequest(request); !s.ok()) return s;
  LoadedCheckpoint loaded;
  loaded.step = checkpoint.step;
  loaded.dir = checkpoint.dir;
  loaded.manifest = checkpoint.manifest;
  loaded.trainer_state_from_rank = request.rank < checkpoint.manifest.world_size ? request.rank : 0;
  absl::StatusOr<TrainerState> state =
      LoadTrainerState(checkpoint, loaded.trainer_state_from_rank, request.encryption);
  if (!state.ok()) return state.status();
  loaded.trainer_state = *std::move(state);
  if (request.load_model_weights && checkpoint.manifest.FindFile(kModelWeightsFileName) != nullptr) {
    absl::StatusOr<std::vector<std::pair<std::string, torch::Tensor>>> weights =
        LoadWeights(checkpoint, request.encryption);
    if (!weights.ok()) return weights.status();
    loaded.model_weights = *std::move(weights);
  }
  if (request.load_optimizer_shard && !checkpoint.manifest.optimizer_shards.empty()) {
    absl::StatusOr<OptimizerShardState> shard = LoadOptimizerRange(checkpoint, request, &loaded.resliced);
    if (!shard.ok()) return shard.status();
    loaded.optimizer_shard = *std::move(shard);
  }
  return loaded;
}

}  // namespace

absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const CommittedCheckpoint& checkpoint, const ResumeRequest& request) {
  try {
    return Load(checkpoint, request);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("loading ", checkpoint.dir, ": ", e.what()));
  }
}

absl::StatusOr<LoadedCheckpoint> LoadNewestValid(const CheckpointRoot& root, const ResumeRequest& request) {
  if (absl::Status s = CheckRequest(request); !s.ok()) return s;
  std::vector<std::string> skipped;
  const CheckpointLog log = [&](const std::string& message) {
    skipped.push_back(message);
    LogTo(request.log, message);
  };
  absl::StatusOr<std::vector<CommittedCheckpoint>> committed = ListCommittedCheckpoints(root, log);
  if (!committed.ok()) return committed.status();
  for (const CommittedCheckpoint& checkpoint : *committed) {
    if (request.fence.has_value() && FencedOut(*request.fence, checkpoint.manifest)) {
      // Not damage: a stale attempt's commit that the fence's lock did not
      // stop (storage without flock); never resumed from.
      LogTo(request.log, absl::StrCat("ignoring checkpoint step ", checkpoint.step, " (", checkpoint.manifest.save_id,
                                      "): committed by an older attempt after generation ", request.fence->generation,
                                      " attempt ", request.fence->attempt, " started"));
      continue;
    }
    absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(checkpoint, request);
    if (loaded.ok()) {
      if (!skipped.empty()) {
        LogTo(request.log, absl::StrCat("resuming from the older checkpoint step ", checkpoint.step, " (",
                                        skipped.size(), " newer skipped)"));
      }
      loaded->skipped = std::move(skipped);
      return loaded;
    }
    log(absl::StrCat("checkpoint step ", checkpoint.step, " does not load: ", loaded.status().message(),
                     "; falling back to the previous checkpoint"));
  }
  if (skipped.empty()) {
    return absl::NotFoundError(absl::StrCat("no committed checkpoint under ", root.JobDirectory()));
  }
  return absl::DataLossError(absl::StrCat("no committed checkpoint under ", root.JobDirectory(),
                                          " loads: ", absl::StrJoin(skipped, "; ")));
}

}  // namespace tunefleet
