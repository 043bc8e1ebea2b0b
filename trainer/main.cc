// tunefleet-trainer: one rank of a fine-tuning job, or the tools around it
// (the command line: trainer/command_line.cc).

#include "trainer/command_line.h"

int main(int argc, char** argv) { return tunefleet::TrainerMain(argc, argv, tunefleet::TrainerHooks{}); }
