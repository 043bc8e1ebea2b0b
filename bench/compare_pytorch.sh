#!/usr/bin/env bash
# tunefleet's training step beside a plain PyTorch eager loop (transformers'
# Llama, AdamW foreach, clipping; LoRA by PEFT) on the venv's torch: the same
# model shapes, batch, steps and threads, in one run, interleaved case by case
# so that both see the same machine. Prints one table with the ratio.
#
#   bench/compare_pytorch.sh [--steps N] [--min-seconds S] [--threads "1 2"] [--cases "demo small ..."] [--compile]
#
# Each measurement times at least N steps and at least S seconds (default 5), so
# that a small model's row is not a second's worth of noise.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
steps=10
min_seconds=5
threads="1 2"
cases="demo small small-lora smollm2 smollm2-lora"
compile=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --min-seconds) min_seconds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --cases) cases=$2; shift 2 ;;
    --compile) compile=1; shift ;;
    *) echo "compare_pytorch: unknown argument $1" >&2; exit 2 ;;
  esac
done
bench=$build/bench/train_step_bench
python=$root/.venv/bin/python
[[ -x $bench ]] || { echo "compare_pytorch: $bench is missing: run scripts/build.sh" >&2; exit 1; }
[[ -x $python ]] || { echo "compare_pytorch: $python is missing: run scripts/install_deps.sh" >&2; exit 1; }

# From a bench's markdown row: "tokens/s tokens/CPU-s" (its last two columns).
# On a shared machine the wall clock counts other processes' work; the
# process's CPU time does not, so the CPU columns are the ones to compare there.
rates() { awk -F'|' 'NF > 3 { a = $(NF-2); b = $(NF-1); gsub(/ /, "", a); gsub(/ /, "", b); print a, b }' | tail -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "steps: $steps or more (to $min_seconds s) timed after warm-up; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "torch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
echo
header="| case | threads | tunefleet tokens/s | PyTorch tokens/s | ratio | tunefleet tokens/CPU-s | PyTorch tokens/CPU-s | ratio |"
rule="| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
if [[ $compile == 1 ]]; then
  header="$header torch.compile tokens/CPU-s | ratio |"
  rule="$rule ---: | ---: |"
fi
echo "$header"
echo "$rule"
for t in $threads; do
  for c in $cases; do
    read -r ours ours_cpu < <("$bench" --case "$c" --steps "$steps" --min-seconds "$min_seconds" --threads "$t" | rates)
    read -r theirs theirs_cpu < <("$python" "$root/bench/pytorch_train_loop.py" --case "$c" --steps "$steps" \
      --min-seconds "$min_seconds" --threads "$t" 2>/dev/null | rates)
    row="| $c | $t | $ours | $theirs | $(ratio "$ours" "$theirs") | $ours_cpu | $theirs_cpu | $(ratio "$ours_cpu" "$theirs_cpu") |"
    if [[ $compile == 1 ]]; then
      read -r _ compiled_cpu < <("$python" "$root/bench/pytorch_train_loop.py" --case "$c" --steps "$steps" \
        --min-seconds "$min_seconds" --threads "$t" --compile 2>/dev/null | rates || echo "0 0")
      row="$row ${compiled_cpu:-n/a} | $(ratio "$ours_cpu" "${compiled_cpu:-0}") |"
    fi
    echo "$row"
  done
done
