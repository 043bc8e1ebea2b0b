// Training throughput of one trainer process: forward, backward, clip and
// AdamW on random tokens, for a few model sizes. Prints a table.
//
//   build/bench/train_step_bench [--steps N] [--min-seconds S] [--threads T] [--case KEY]
//
// bench/compare_pytorch.sh runs it beside bench/pytorch_train_loop.py.

#include <torch/torch.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/heap_reuse.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_init.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/train/train_step.h"

namespace tunefleet {
namespace {

struct Case {
  const char* key;  // as bench/pytorch_train_loop.py names it
  const char* name;
  int hidden, intermediate, layers, heads, kv_heads, vocab;
  int seq_len, micro_batch;
  bool lora;
};

ModelConfig ConfigOf(const Case& c) {
  ModelConfig config;
  config.model_type = "llama";
  config.hidden_size = c.hidden;
  config.intermediate_size = c.intermediate;
  config.num_hidden_layers = c.layers;
  config.num_attention_heads = c.heads;
  config.num_key_value_heads = c.kv_heads;
  config.head_dim = c.hidden / c.heads;
  config.vocab_size = c.vocab;
  config.max_position_embeddings = 4096;
  config.tie_word_embeddings = true;
  return config;
}

// This process's CPU time (all threads): on a shared machine the wall clock
// counts other processes' work too, the CPU time does not.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

BatchTensors RandomBatch(const Case& c) {
  BatchTensors b;
  b.input_ids = torch::randint(c.vocab, {c.micro_batch, c.seq_len}, torch::kInt64);
  b.labels = torch::randint(c.vocab, {c.micro_batch, c.seq_len}, torch::kInt64);
  b.position_ids = torch::arange(c.seq_len, torch::kInt64).repeat({c.micro_batch, 1});
  b.segment_ids = torch::ones({c.micro_batch, c.seq_len}, torch::kInt64);
  b.real_tokens = b.loss_tokens = static_cast<int64_t>(c.micro_batch) * c.seq_len;
  return b;
}

int Run(int steps, double min_seconds, const std::string& only) {
  const std::vector<Case> cases = {
      {"demo", "demo (bundled base model)", 128, 384, 4, 4, 2, 512, 128, 16, false},
      {"small", "small", 512, 1408, 8, 8, 4, 8192, 512, 4, false},
      {"small-lora", "small, LoRA r=16", 512, 1408, 8, 8, 4, 8192, 512, 4, true},
      {"smollm2", "SmolLM2-135M shape", 576, 1536, 30, 9, 3, 49152, 256, 4, false},
      {"smollm2-lora", "SmolLM2-135M shape, LoRA r=16", 576, 1536, 30, 9, 3, 49152, 256, 4, true},
  };
  std::printf("torch threads: %d, %d timed steps (or more, to %.0f s) after 2 warm-up\n\n", torch::get_num_threads(),
              steps, min_seconds);
  std::printf("| model | params | trainable | seq x micro | ms/step | CPU ms/step | tokens/s | tokens/CPU-s |\n");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
  for (const Case& c : cases) {
    if (!only.empty() && only != c.key) continue;
    torch::manual_seed(0);
    auto model = CreateRandomModel(ConfigOf(c), 0);
    if (!model.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name, model.status().ToString().c_str());
      return 1;
    }
    int64_t total = 0;
    for (const auto& p : (*model)->parameters()) total += p.numel();
    if (c.lora) {
      LoraConfig lora;
      lora.rank = 16;
      lora.alpha = 16;
      if (auto s = ApplyLora(**model, lora); !s.ok()) return 1;
    }
    auto params = FlatParameters::Create(TrainableParameters(**model), IsNoDecayParameter);
    if (!params.ok()) return 1;
    AdamW optimizer(params->values(), 0, params->decay_numel(), AdamWOptions{});
    const BatchTensors batch = RandomBatch(c);
    const StepSettings settings{1e-4, 1.0, batch.loss_tokens};
    double seconds = 0;
    double cpu_seconds = 0;
    int timed = 0;
    for (int i = 0; i < 2 || timed < steps || seconds < min_seconds; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = ProcessCpuSeconds();
      auto r = TrainStep(**model, *params, optimizer, {batch}, settings);
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", c.name, r.status().ToString().c_str());
        return 1;
      }
      if (i >= 2) {
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        cpu_seconds += ProcessCpuSeconds() - cpu_start;
        ++timed;
      }
    }
    const double per_step = seconds / timed;
    const double cpu_per_step = cpu_seconds / timed;
    std::printf("| %s | %.2fM | %.2fM | %d x %d | %.1f | %.1f | %.0f | %.0f |\n", c.name, total / 1e6,
                params->numel() / 1e6, c.seq_len, c.micro_batch, per_step * 1e3, cpu_per_step * 1e3,
                batch.real_tokens / per_step, batch.real_tokens / cpu_per_step);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace tunefleet

int main(int argc, char** argv) {
  tunefleet::KeepFreedHeapForReuse();  // as the trainer does
  int steps = 10;
  double min_seconds = 0;  // keep stepping past `steps` until this much is timed
  std::string only;  // one case by key, or all
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) torch::set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--min-seconds") == 0) min_seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--case") == 0) only = argv[i + 1];
  }
  return tunefleet::Run(steps > 0 ? steps : 1, min_seconds, only);
}
