// Memory of a LoRA run over a float32, bf16 and NF4 (QLoRA) base: the
// SmolLM2-135M shape with random weights, LoRA r=16 on all seven
// projections, a few training steps. Prints one table: the base's weight
// bytes beside the theory (4, 2 and 0.5 + 4/64 bytes per projection weight),
// RSS after setup (after malloc_trim), peak RSS over the steps, tokens/s.
// Each case runs in a
// child process (this binary with --case), so one case's peak is not
// another's.
//
//   build/bench/qlora_memory_bench [--steps N] [--seq T] [--micro-batch B] [--threads K]

#include <torch/torch.h>

#include <limits.h>
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "trainer/model/base_quantization.h"
#include "trainer/model/lora.h"
#include "trainer/model/model_init.h"
#include "trainer/optim/adamw.h"
#include "trainer/optim/flat_parameters.h"
#include "trainer/train/train_step.h"

namespace tunefleet {
namespace {

struct Settings {
  int steps = 3;
  int seq = 256;
  int micro_batch = 2;
  int threads = 0;  // 0: torch's default
};

// SmolLM2-135M (HuggingFaceTB/SmolLM2-135M-Instruct's config.json).
ModelConfig SmolLm2Config() {
  ModelConfig c;
  c.model_type = "llama";
  c.hidden_size = 576;
  c.intermediate_size = 1536;
  c.num_hidden_layers = 30;
  c.num_attention_heads = 9;
  c.num_key_value_heads = 3;
  c.head_dim = 64;
  c.vocab_size = 49152;
  c.max_position_embeddings = 8192;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 100000.0;
  c.tie_word_embeddings = true;
  return c;
}

// kB from /proc/self/status ("VmRSS", "VmHWM").
int64_t StatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::atoll(line.c_str() + n + 1);
  }
  return -1;
}

// Linux: writing 5 to clear_refs resets the peak RSS to the current RSS.
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return out.good();
}

BatchTensors RandomBatch(const Settings& s, int64_t vocab) {
  BatchTensors b;
  b.input_ids = torch::randint(vocab, {s.micro_batch, s.seq}, torch::kInt64);
  b.labels = torch::randint(vocab, {s.micro_batch, s.seq}, torch::kInt64);
  b.position_ids = torch::arange(s.seq, torch::kInt64).repeat({s.micro_batch, 1});
  b.segment_ids = torch::ones({s.micro_batch, s.seq}, torch::kInt64);
  b.real_tokens = b.loss_tokens = static_cast<int64_t>(s.micro_batch) * s.seq;
  return b;
}

// One case in this process; prints one machine-readable line.
int RunCase(const std::string& key, const Settings& s) {
  if (s.threads > 0) torch::set_num_threads(s.threads);
  torch::manual_seed(0);
  const ModelConfig config = SmolLm2Config();
  auto model = CreateRandomModel(config, 0);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  LoraConfig lora;
  lora.rank = 16;
  lora.alpha = 32;
  if (auto st = ApplyLora(**model, lora); !st.ok()) return 1;
  // As the trainer does it (training_run.cc): quantise from float32, then cast.
  if (key == "nf4") {
    if (auto st = QuantizeBaseToNf4(**model, torch::kCPU); !st.ok()) return 1;
  } else if (key == "bf16") {
    (*model)->to(torch::kBFloat16);
  }
  const FrozenBaseBytes base = CountFrozenBaseBytes(**model);
  auto params = FlatParameters::Create(TrainableParameters(**model), IsNoDecayParameter);
  if (!params.ok()) return 1;
  AdamW optimizer(params->values(), 0, params->decay_numel(), AdamWOptions{});
  const BatchTensors batch = RandomBatch(s, config.vocab_size);
  const StepSettings step{1e-4, 1.0, batch.loss_tokens};
  // glibc keeps freed heap pages (the float32 weights NF4 replaced, the
  // quantiser's temporaries) in the process: hand them back, so RSS measures
  // what is live. Without this the NF4 row's RSS is above float32's.
  malloc_trim(0);
  const int64_t setup_kb = StatusKb("VmRSS");
  const bool reset = ResetPeakRss();
  double seconds = 0;
  for (int i = 0; i < s.steps + 1; ++i) {  // the first step warms up
    const auto start = std::chrono::steady_clock::now();
    auto r = TrainStep(**model, *params, optimizer, {batch}, step);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
    if (i > 0) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  // Projection parameters = all quantisable ones; the rest of the base is dense in every case.
  std::printf("RESULT %lld %lld %lld %lld %lld %d %.1f\n", static_cast<long long>(base.dense),
              static_cast<long long>(base.nf4), static_cast<long long>(params->numel()),
              static_cast<long long>(setup_kb), static_cast<long long>(StatusKb("VmHWM")), reset ? 1 : 0,
              batch.real_tokens * s.steps / seconds);
  return 0;
}

int64_t ProjectionParameters(const ModelConfig& c) {
  const int64_t q = static_cast<int64_t>(c.num_attention_heads) * c.head_dim;
  const int64_t kv = static_cast<int64_t>(c.num_key_value_heads) * c.head_dim;
  const int64_t h = c.hidden_size;
  const int64_t i = c.intermediate_size;
  return c.num_hidden_layers * (q * h + 2 * kv * h + h * q + 3 * i * h);
}

int RunAll(const char* self, const Settings& s) {
  const ModelConfig config = SmolLm2Config();
  const double projections = static_cast<double>(ProjectionParameters(config));
  std::printf("SmolLM2-135M shape (random weights), LoRA r=16 on q/k/v/o/gate/up/down, %d steps of %d x %d tokens\n",
              s.steps, s.micro_batch, s.seq);
  std::printf("(projection weights: %.1fM of the base; embeddings and norms stay dense in every case)\n\n",
              projections / 1e6);
  std::printf("| base | projections, theory | projections, measured | whole frozen base | RSS after setup | "
              "peak RSS over the steps | tokens/s |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  struct Row {
    const char* key;
    const char* name;
    double bytes_per_weight;
  };
  const Row rows[] = {{"fp32", "float32", 4.0}, {"bf16", "bf16", 2.0}, {"nf4", "NF4 (QLoRA)", 0.5 + 4.0 / 64}};
  for (const Row& row : rows) {
    const std::string command = std::string(self) + " --case " + row.key + " --steps " + std::to_string(s.steps) +
                                " --seq " + std::to_string(s.seq) + " --micro-batch " +
                                std::to_string(s.micro_batch) + " --threads " + std::to_string(s.threads);
    FILE* child = popen(command.c_str(), "r");
    if (child == nullptr) return 1;
    char line[512];
    long long dense = 0, nf4 = 0, trainable = 0, setup_kb = 0, peak_kb = 0;
    int reset = 0;
    double tokens_per_s = 0;
    bool found = false;
    while (std::fgets(line, sizeof(line), child) != nullptr) {
      found |= std::sscanf(line, "RESULT %lld %lld %lld %lld %lld %d %lf", &dense, &nf4, &trainable, &setup_kb,
                           &peak_kb, &reset, &tokens_per_s) == 7;
    }
    if (pclose(child) != 0 || !found) {
      std::fprintf(stderr, "case %s failed\n", row.key);
      return 1;
    }
    // Measured projection bytes: NF4's packed codes and scales, or the dense
    // frozen bytes less the embedding and norms (the same in each dtype's width).
    const double width = row.key == std::string("bf16") ? 2.0 : 4.0;
    const double other = static_cast<double>(config.vocab_size) * config.hidden_size +
                         static_cast<double>(config.hidden_size) * (2 * config.num_hidden_layers + 1);
    const double measured = nf4 > 0 ? static_cast<double>(nf4) : static_cast<double>(dense) - other * width;
    std::printf("| %s | %.1f MB (%.4g B/weight) | %.1f MB | %.1f MB | %.0f MB | %.0f MB%s | %.0f |\n", row.name,
                projections * row.bytes_per_weight / 1e6, row.bytes_per_weight, measured / 1e6,
                static_cast<double>(dense + nf4) / 1e6, setup_kb / 1024.0, peak_kb / 1024.0,
                reset ? "" : " (whole run)", tokens_per_s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace tunefleet

int main(int argc, char** argv) {
  tunefleet::Settings s;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) s.steps = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--seq") == 0) s.seq = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--micro-batch") == 0) s.micro_batch = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--threads") == 0) s.threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--case") == 0) only = argv[i + 1];
  }
  if (s.steps < 1 || s.seq < 1 || s.micro_batch < 1) return 2;
  if (!only.empty()) return tunefleet::RunCase(only, s);
  // The children are this binary: its path now (popen's shell is another process).
  char self[PATH_MAX] = {};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;
  return tunefleet::RunAll(self, s);
}
