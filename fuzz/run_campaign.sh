#!/usr/bin/env bash
# A long fuzzing campaign, target after target, at low priority:
#   fuzz/run_campaign.sh <fuzzer-bin-dir> <out-dir> <seconds-per-target> [target...]
# Each target starts from a copy of its checked-in corpus (fuzz/corpus/<t>)
# in <out-dir>/<t>/corpus, keeps going past crashes (fork mode), and leaves
# its log in <out-dir>/<t>.log and reproducers as <out-dir>/<t>/crash-*,
# leak-*, timeout-*, oom-*. Add a fixed reproducer to fuzz/corpus/<t>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1 out=$2 seconds=$3
shift 3
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(job_spec_yaml job_spec_proto safetensors_header tokenizer_json
           checkpoint_manifest jsonl_record gguf_metadata model_config)
fi
mkdir -p "$out"
for t in "${targets[@]}"; do
  mkdir -p "$out/$t/corpus"
  cp -n "$root/fuzz/corpus/$t/"* "$out/$t/corpus/" 2>/dev/null || true
  echo "== $t: ${seconds}s from $(ls "$out/$t/corpus" | wc -l) inputs" | tee -a "$out/summary.log"
  # timeout: a hard stop should libFuzzer's own clock not end it.
  (cd "$out/$t" && nice -n 10 timeout $((seconds + 120)) "$bin/${t}_fuzz" \
      -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/$t/" -print_final_stats=1 -print_funcs=0 corpus >"$out/$t.log" 2>&1) || true
  grep -a -E "^#[0-9]+: cov|SUMMARY|INFO: fuzzed for" "$out/$t.log" | tail -n 3 | tee -a "$out/summary.log" || true
  ls "$out/$t" | grep -E "^(crash|leak|timeout|oom|slow-unit)-" | sed "s/^/  /" | tee -a "$out/summary.log" || true
done
