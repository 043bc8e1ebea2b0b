#pragma once
// The atomic file writer lives in common/fs (every process writes files the
// same way: random O_EXCL|O_NOFOLLOW temporaries, fsync, rename, fsync of
// the directory); this header keeps the trainer's includes as they were.

#include "common/fs/atomic_file.h"
