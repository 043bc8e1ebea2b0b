#include "trainer/checkpoint/rank_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/fs/process_path_policy.h"
#include "trainer/checkpoint/commit.h"
#include "trainer/checkpoint/encrypted_files.h"
#include "trainer/safetensors/safetensors_torch.h"

namespace tunefleet {
namespace {

namespace fs = std::filesystem;

// The new step folder's own entry must survive a crash too.
void FsyncDirectory(const std::string& dir) {
  absl::StatusOr<UniqueFd> fd = OpenUserDirectory(dir);
  if (fd.ok()) ::fsync(fd->get());
}

absl::StatusOr<std::string> PrepareStepDirectory(const CheckpointRoot& root, int64_t step) {
  const std::string dir = root.StepDirectory(step);
  // Made beneath the allowed roots: a link in the checkpoint path cannot
  // send the step folder elsewhere.
  if (absl::StatusOr<UniqueFd> made = MakeUserDirectories(dir); !made.ok()) {
    return absl::Status(made.status().code(), absl::StrCat("cannot create ", dir, ": ", made.status().message()));
  }
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kManifestFileName, ec)) {
    // Overwriting files under a committed manifest would corrupt it.
    return absl::AlreadyExistsError(absl::StrCat(dir, " is already committed"));
  }
  FsyncDirectory(root.JobDirectory());
  return dir;
}

absl::Status WithFile(const absl::Status& s, const std::string& name) {
  return absl::Status(s.code(), absl::StrCat(name, ": ", s.message()));
}

absl::StatusOr<FileRecord> WriteTensors(const std::string& dir, const std::string& name,
                                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const WriteProgressHook& hook, const FileEncryption* encryption) {
  TorchTensorsToWrite input;
  for (const auto& [tensor_name, tensor] : tensors) {
    if (absl::Status s = input.Add(tensor_name, tensor); !s.ok()) return WithFile(s, name);
  }
  return WriteSafetensorsWithChecksum(dir, name, input.tensors(), metadata, hook, encryption);
}

absl::Status CheckShard(const OptimizerShardState& shard) {
  const int64_t n = shard.end - shard.begin;
  if (shard.begin < 0 || n < 0 || shard.end > shard.padded_numel || shard.numel > shard.padded_numel) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer shard [", shard.begin, ", ", shard.end, ") of ",
                                                   shard.padded_numel, " (", shard.numel, " real) is inconsistent"));
  }
  for (const torch::Tensor* t : {&shard.master, &shard.exp_avg, &shard.exp_avg_sq}) {
    if (!t->defined() || t->numel() != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer shard [", shard.begin, ", ", shard.end, "): a state tensor has ",
                       t->defined() ? t->numel() : -1, " elements, not ", n));
    }
  }
  return absl::OkStatus();
}

// How one file is sealed: under the ring's current key, bound to this
// save and name. Empty when encryption is off.
std::optional<FileEncryption> EncryptionFor(const crypto::KeyRing* keys, const RankCheckpointState& state,
                                            const std::string& name) {
  if (keys == nullptr) return std::nullopt;
  return FileEncryption{&keys->current(), CheckpointFileContext(state.save_id, name)};
}

const FileEncryption* OrNull(const std::optional<FileEncryption>& e) { return e ? &*e : nullptr; }

// Writes the files, adding each to `record` as it is committed.
absl::Status WriteFilesOrThrow(const CheckpointRoot& root, const RankCheckpointState& state,
                               const WriteProgressHook& hook, const crypto::KeyRing* keys, RankFilesRecord& record) {
  if (state.rank < 0 || state.rank >= state.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", state.rank, " of world size ", state.world_size));
  }
  const int64_t step = state.trainer_state.step;
  absl::StatusOr<std::string> dir = PrepareStepDirectory(root, step);
  if (!dir.ok()) return dir.status();

  if (!state.model_weights.empty()) {
    const std::optional<FileEncryption> encryption = EncryptionFor(keys, state, kModelWeightsFileName);
    absl::StatusOr<FileRecord> file =
        WriteTensors(*dir, kModelWeightsFileName, state.model_weights, {{"format", "pt"}}, hook, OrNull(encryption));
    if (!file.ok()) return file.status();
    record.files.push_back(*file);
  }
  if (state.optimizer_shard) {
    const OptimizerShardState& shard = *state.optimizer_shard;
    if (absl::Status s = CheckShard(shard); !s.ok()) return s;
    const std::string name = OptimizerShardFileName(state.rank, state.world_size);
    // The range is in the file too, so a shard file explains itself.
    const std::map<std::string, std::string> metadata = {
        {"format", "pt"},
        {"flat_begin", absl::StrCat(shard.begin)},
        {"flat_end", absl::StrCat(shard.end)},
        {"flat_padded_numel", absl::StrCat(shard.padded_numel)},
        {"flat_numel", absl::StrCat(shard.numel)},
        {"adamw_step", absl::StrCat(shard.adamw_step)},
        {"rank", absl::StrCat(state.rank)},
        {"world_size", absl::StrCat(state.world_size)}};
    const std::optional<FileEncryption> encryption = EncryptionFor(keys, state, name);
    absl::StatusOr<FileRecord> file = WriteTensors(
        *dir, name,
        {{"master", shard.master.to(torch::kFloat32)},
         {"exp_avg", shard.exp_avg.to(torch::kFloat32)},
         {"exp_avg_sq", shard.exp_avg_sq.to(torch::kFloat32)}},
        metadata, hook, OrNull(encryption));
    if (!file.ok()) return file.status();
    record.files.push_back(*file);
    record.optimizer_shard =
        OptimizerShardRecord{name, state.rank, shard.begin, shard.end, shard.padded_numel, shard.numel};
  }
  TrainerState trainer_state = state.trainer_state;
  trainer_state.rank = state.rank;
  trainer_state.world_size = state.world_size;
  const std::string state_name = TrainerStateFileName(state.rank);
  const std::optional<FileEncryption> state_encryption = EncryptionFor(keys, state, state_name);
  absl::StatusOr<FileRecord> state_file = WriteFileWithChecksum(*dir, state_name, TrainerStateToJson(trainer_state),
                                                                hook, OrNull(state_encryption));
  if (!state_file.ok()) return state_file.status();
  record.files.push_back(*state_file);

  // Last: the record says "this rank is done", so it follows every fsync.
  return PublishRankFiles(*dir, record);
}

// A failed save removes what it wrote: after ENOSPC the space must come
// back, or every later save fails too. Best effort; the folder has no
// manifest, so leftovers never load, and retention removes them later.
void RemoveWrittenFiles(const CheckpointRoot& root, const RankFilesRecord& record) {
  const std::string dir = root.StepDirectory(record.step);
  for (const FileRecord& file : record.files) ::unlink(absl::StrCat(dir, "/", file.name).c_str());
  ::unlink(absl::StrCat(dir, "/", RankDoneFileName(record.rank)).c_str());
  ::rmdir(dir.c_str());  // only succeeds when no other rank wrote there
}

}  // namespace

absl::StatusOr<RankFilesRecord> WriteRankFiles(const CheckpointRoot& root, const RankCheckpointState& state,
                                               const WriteProgressHook& hook, const crypto::KeyRing* encryption) {
  RankFilesRecord record;
  record.rank = state.rank;
  record.world_size = state.world_size;
  record.step = state.trainer_state.step;
  record.save_id = state.save_id;
  absl::Status status;
  try {
    status = WriteFilesOrThrow(root, state, hook, encryption, record);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("writing rank ", state.rank, "'s checkpoint files: ", e.what()));
  }
  if (!status.ok()) {
    if (!absl::IsAlreadyExists(status)) RemoveWrittenFiles(root, record);
    return status;
  }
  return record;
}

absl::StatusOr<std::optional<Manifest>> SaveCheckpoint(const CheckpointRoot& root, const RankCheckpointState& state,
                                                       const std::function<absl::Status()>& barrier,
                                                       std::optional<double> loss, int commit_rank,
                                                       const crypto::KeyRing* encryption) {
  absl::StatusOr<RankFilesRecord> written = WriteRankFiles(root, state, {}, encryption);
  if (absl::Status s = barrier(); !s.ok()) return s;
  if (!written.ok()) return written.status();
  if (state.rank != commit_rank) return std::optional<Manifest>();
  CommitRequest request;
  request.step = state.trainer_state.step;
  request.world_size = state.world_size;
  request.save_id = state.save_id;
  request.loss = loss;
  absl::StatusOr<Manifest> manifest = CommitManifest(root, request);
  if (!manifest.ok()) return manifest.status();
  return std::optional<Manifest>(*std::move(manifest));
}

}  // namespace tunefleet
