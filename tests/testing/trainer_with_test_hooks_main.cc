// tunefleet-trainer-with-test-hooks: tunefleet-trainer as the tests that
// drive real trainer processes need it, with hooks production never has.
// Its own flags come first and are taken off before the trainer's parse:
//
//   --test-pause-checkpoint-write-at-step N
//       the checkpoint writer of step N's save stops for good after its
//       first bytes ("checkpoint: writer paused in FILE after B bytes" on
//       stdout), so a test can kill the rank mid-write.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "trainer/command_line.h"

namespace {

class PauseWriterAtStep : public tunefleet::CheckpointWriteObserver {
 public:
  explicit PauseWriterAtStep(int64_t step) : step_(step) {}
  absl::Status Wrote(int64_t step, const std::string& file, uint64_t bytes) override {
    if (step != step_ || bytes == 0) return absl::OkStatus();
    std::printf("checkpoint: writer paused in %s after %llu bytes\n", file.c_str(),
                static_cast<unsigned long long>(bytes));
    std::fflush(stdout);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until the test kills the process
  }

 private:
  int64_t step_;
};

}  // namespace

int main(int argc, char** argv) {
  tunefleet::TrainerHooks hooks;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--test-pause-checkpoint-write-at-step" && i + 1 < argc) {
      hooks.checkpoint_write_observer = std::make_shared<PauseWriterAtStep>(std::atoll(argv[++i]));
    } else {
      rest.push_back(argv[i]);
    }
  }
  rest.push_back(nullptr);
  return tunefleet::TrainerMain(static_cast<int>(rest.size()) - 1, rest.data(), hooks);
}
