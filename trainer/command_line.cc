// tunefleet-trainer: one rank of a fine-tuning job, or the tools around it.
//
//   tunefleet-trainer train --spec job.yaml [--set key=value]... [--metrics-out m.jsonl]
//                           [--rank R --world-size N --rendezvous tcp://HOST:PORT|file:///PATH]
//     (or torchrun's MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK)
//                           [--job-id ID] [--log-every N] [--encryption-key-file K]
//                           [--allowed-root DIR]... [--denied-path PATH]... [--allow-any-path]
//   tunefleet-trainer export --checkpoint STEP_DIR|JOB_DIR --base-model DIR --out DIR
//                            [--format hf_model|peft_adapter|merged_model]
//   tunefleet-trainer decrypt --in ENCRYPTED_DIR --out DIR [--key-file K]
//   tunefleet-trainer evaluate --model DIR [--adapter DIR] --data test.jsonl
//   tunefleet-trainer compare --baseline-model DIR [--baseline-adapter DIR] [--candidate-model DIR]
//                             [--candidate-adapter DIR] --data test.jsonl [-o table|json]
//   tunefleet-trainer train-tokenizer --corpus a.jsonl --vocab-size N --out tokenizer.json
//
// Signals (train): SIGUSR1 saves a checkpoint at the next step boundary and
// goes on. SIGTERM or SIGINT saves one at the next step boundary and exits
// 75 once it is committed (resumable); a second SIGTERM/SIGINT, or a failed
// save, exits non-zero at once. Exit codes: 0 done, 1 error, 2 usage,
// 70 internal error, 71 out of memory (an allocation refused, e.g. at the
// address-space limit its worker set), 75 stopped after a committed checkpoint.

#include <atomic>
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/exit_codes.h"
#include "common/fs/process_path_policy.h"
#include "common/heap_reuse.h"
#include "common/job_spec_file.h"
#include "common/broken_pipe.h"
#include "common/out_of_memory.h"
#include "trainer/tools/build_info.h"
#include "trainer/tools/compare_command.h"
#include "trainer/tools/decrypt_command.h"
#include "trainer/tools/evaluate_command.h"
#include "trainer/tools/export_command.h"
#include "trainer/tools/import_command.h"
#include "trainer/tools/train_tokenizer_command.h"
#include "trainer/checkpoint/attempt_fence.h"
#include "trainer/command_line.h"
#include "trainer/train/training_run.h"

namespace {

constexpr int kExitStoppedAfterCheckpoint = tunefleet::exit_codes::kStoppedAfterCheckpoint;  // resumable

// Handlers only set atomics; the loop acts at the next step boundary.
std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_save_requested{false};

void RequestStop(int) { g_stop_requested.store(true); }
void RequestSave(int) { g_save_requested.store(true); }

void InstallSignalHandlers() {
  struct sigaction stop {};
  stop.sa_handler = RequestStop;
  sigemptyset(&stop.sa_mask);
  // One-shot: the second SIGTERM/SIGINT meets the default action and ends
  // the process at once, without waiting for a save.
  stop.sa_flags = SA_RESETHAND | SA_RESTART;
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  struct sigaction save {};
  save.sa_handler = RequestSave;
  sigemptyset(&save.sa_mask);
  save.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &save, nullptr);
}

int Fail(const absl::Status& status) {
  if (tunefleet::IsAttemptFenced(status)) {
    std::cerr << "tunefleet-trainer: fenced, exit " << tunefleet::exit_codes::kAttemptFenced << ": "
              << status.message() << "\n";
    return tunefleet::exit_codes::kAttemptFenced;
  }
  std::cerr << "tunefleet-trainer: " << status.message() << "\n";
  // A refused allocation that reached a status (libtorch's allocators throw
  // errors, caught at module edges) still exits with the out-of-memory code.
  return tunefleet::SaysOutOfMemory(status.message()) ? tunefleet::exit_codes::kOutOfMemory : 1;
}

// Where the job's paths may be opened (docs/security.md): the roots its
// worker passes; none: anywhere but the system trees (a trainer run by hand).
struct PathFlags {
  std::vector<std::string> allowed_roots;
  std::vector<std::string> denied_paths;
  bool allow_any_path = false;
};

absl::Status InstallPolicyFromFlags(const PathFlags& flags) {
  if (flags.allow_any_path || flags.allowed_roots.empty()) {
    if (!flags.allowed_roots.empty()) {
      std::cerr << "tunefleet-trainer: --allow-any-path: the job's paths are not confined to the allowed roots\n";
    }
    tunefleet::InstallPathPolicy(nullptr);
    return absl::OkStatus();
  }
  auto policy = tunefleet::PathPolicy::Confined(flags.allowed_roots, flags.denied_paths);
  if (!policy.ok()) return policy.status();
  tunefleet::InstallPathPolicy(std::make_shared<tunefleet::PathPolicy>(*std::move(policy)));
  return absl::OkStatus();
}

int Train(const std::string& spec_path, const std::vector<std::string>& overrides, const PathFlags& path_flags,
          tunefleet::RunOptions options, const tunefleet::TrainerHooks& hooks) {
  // Before anything reads a user path, and before any thread starts.
  if (auto s = InstallPolicyFromFlags(path_flags); !s.ok()) return Fail(s);
  auto spec = tunefleet::LoadJobSpecWithOverrides(spec_path, overrides);
  if (!spec.ok()) return Fail(spec.status());
  InstallSignalHandlers();
  options.stop_requested = &g_stop_requested;
  options.save_requested = &g_save_requested;
  options.checkpoint_write_observer = hooks.checkpoint_write_observer;
  auto end = tunefleet::RunTraining(*spec, options);
  if (!end.ok()) return Fail(end.status());
  return *end == tunefleet::RunEnd::kStoppedAfterCheckpoint ? kExitStoppedAfterCheckpoint : 0;
}

}  // namespace

namespace tunefleet {

int TrainerMain(int argc, char** argv, const TrainerHooks& hooks) {
  tunefleet::ExitWhenMemoryIsRefused();
  tunefleet::KeepFreedHeapForReuse();
  tunefleet::IgnoreBrokenPipes();
  CLI::App app{"tunefleet-trainer: one rank of a tunefleet fine-tuning job, and its tools"};
  app.set_version_flag("--version", [] { return tunefleet::TrainerBuildInfo(); });
  app.require_subcommand(1);

  std::string spec_path;
  std::vector<std::string> overrides;
  tunefleet::RunOptions run_options;
  CLI::App* train = app.add_subcommand("train", "Train per a job spec (YAML or JSON)");
  train->add_option("--spec", spec_path, "Job spec file")->required();
  train->add_option("--set", overrides, "Override a spec field: key.path=value (repeatable)");
  train->add_option("--metrics-out", run_options.metrics_out, "Append JSON-lines metrics to this file");
  train->add_option("--job-id", run_options.job_id,
                    "Checkpoint folder name under checkpoint.directory (default: $TUNEFLEET_JOB's last component, "
                    "else display_name)");
  train->add_option("--log-every", run_options.log_every, "Progress line every N steps")->check(CLI::PositiveNumber);
  PathFlags path_flags;
  train->add_option("--allowed-root", path_flags.allowed_roots,
                    "A folder the job's paths may be opened beneath, links resolved at open (repeatable; the "
                    "worker passes its own). None: anywhere but /, /etc, /proc, /sys, /dev");
  train->add_option("--denied-path", path_flags.denied_paths,
                    "A folder or file inside the roots the job may never open (repeatable)");
  train->add_flag("--allow-any-path", path_flags.allow_any_path,
                  "Operators only: do not confine the job's paths to the roots (system trees stay refused)");
  tunefleet::LaunchFlags& launch = run_options.launch;
  train->add_option("--rank", launch.rank, "This trainer's rank (default: $RANK)");
  train->add_option("--world-size", launch.world_size, "Ranks in the job (default: $WORLD_SIZE)");
  train->add_option("--local-rank", launch.local_rank, "Rank on this node (default: $LOCAL_RANK)");
  train->add_option("--rendezvous", launch.rendezvous,
                    "Where ranks meet: tcp://HOST:PORT (rank 0 serves) or file:///PATH "
                    "(default: tcp://$MASTER_ADDR:$MASTER_PORT)");
  train->add_option("--encryption-key-file", run_options.encryption_key_file,
                    "Encrypt checkpoints and the export at rest under this key file's first key "
                    "(default: $TUNEFLEET_ENCRYPTION_KEY_FILE, which the worker sets)");

  tunefleet::ExportCommandOptions export_options;
  CLI::App* export_command = app.add_subcommand("export", "Export a checkpoint as a HF model, PEFT adapter or merged model");
  tunefleet::AddExportOptions(*export_command, export_options);

  tunefleet::DecryptCommandOptions decrypt_options;
  CLI::App* decrypt =
      app.add_subcommand("decrypt", "Decrypt an encrypted export (or checkpoint folder) for other tools");
  tunefleet::AddDecryptOptions(*decrypt, decrypt_options);

  tunefleet::EvaluateOptions eval_options;
  CLI::App* evaluate = app.add_subcommand("evaluate", "Exact-match accuracy of a model on prompt/completion JSONL");
  tunefleet::AddEvaluateOptions(*evaluate, eval_options);

  tunefleet::CompareOptions compare_options;
  CLI::App* compare = app.add_subcommand(
      "compare", "A/B evaluation: a candidate against a baseline on held-out JSONL, with paired bootstrap intervals");
  tunefleet::AddCompareOptions(*compare, compare_options);

  tunefleet::ImportOptions import_options;
  CLI::App* import_command =
      app.add_subcommand("import", "Write a base model (a GGUF file) out as a Hugging Face model directory");
  tunefleet::AddImportOptions(*import_command, import_options);

  tunefleet::TrainTokenizerOptions tokenizer_options;
  CLI::App* train_tokenizer = app.add_subcommand("train-tokenizer", "Train a byte-level BPE tokenizer.json");
  tunefleet::AddTrainTokenizerOptions(*train_tokenizer, tokenizer_options);

  CLI11_PARSE(app, argc, argv);
  try {
    if (train->parsed()) return Train(spec_path, overrides, path_flags, run_options, hooks);
    if (export_command->parsed()) {
      if (auto s = tunefleet::RunExport(export_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (decrypt->parsed()) {
      if (auto s = tunefleet::RunDecrypt(decrypt_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (evaluate->parsed()) {
      if (auto s = tunefleet::RunEvaluate(eval_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (compare->parsed()) {
      if (auto s = tunefleet::RunCompare(compare_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (import_command->parsed()) {
      if (auto s = tunefleet::RunImport(import_options); !s.ok()) return Fail(s);
      return 0;
    }
    if (train_tokenizer->parsed()) {
      if (auto s = tunefleet::RunTrainTokenizer(tokenizer_options); !s.ok()) return Fail(s);
      return 0;
    }
  } catch (const std::exception& e) {  // a last guard: nothing escapes main
    std::cerr << "tunefleet-trainer: internal error: " << e.what() << "\n";
    return tunefleet::SaysOutOfMemory(e.what()) ? tunefleet::exit_codes::kOutOfMemory
                                                : tunefleet::exit_codes::kInternalError;
  }
  return 2;
}

}  // namespace tunefleet
