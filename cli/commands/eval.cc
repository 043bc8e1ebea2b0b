// eval: A/B evaluation of a candidate model against a baseline, run here
// (it needs the model, not the cluster): the trainer binary's `compare`,
// found beside this one, with the arguments as given.

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/commands/commands.h"
#include "cli/local_cluster/local_cluster.h"

namespace tunefleet::cli {
namespace {

int Eval(const std::vector<std::string>& arguments) {
  const std::string trainer = FindSiblingBinary("trainer", "tunefleet-trainer");
  std::vector<std::string> argv_strings = {trainer, "compare"};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  ::execv(trainer.c_str(), argv.data());
  std::cerr << "tunefleet eval: cannot run " << trainer << ": " << std::strerror(errno)
            << " (it is built with the trainer: scripts/build.sh)\n";
  return kExitError;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int& exit_code) {
  auto arguments = std::make_shared<std::vector<std::string>>();
  CLI::App* eval = app.add_subcommand(
      "eval",
      "A/B evaluation: --baseline-model M [--baseline-adapter A] [--candidate-model M2] [--candidate-adapter A2] "
      "--data test.jsonl [-o json] (tunefleet-trainer compare --help lists every option)");
  eval->prefix_command();  // everything after `eval` goes to the trainer as is
  eval->allow_extras();
  eval->fallthrough(false);  // the app passes unknown flags up; these belong to the trainer
  eval->callback([&, eval, arguments] {
    *arguments = eval->remaining();
    exit_code = Eval(*arguments);
  });
}

}  // namespace tunefleet::cli
