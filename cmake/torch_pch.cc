// The translation unit that compiles the shared <torch/torch.h> precompiled header.
