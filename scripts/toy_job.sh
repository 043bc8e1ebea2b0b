#!/usr/bin/env bash
# The toy job (the main job before SmolLM2): starts a local cluster (a coordinator and 2 workers),
# fine-tunes the bundled base model on the demo task (two-digit addition asked
# in words) as one job of 2 data-parallel ranks, shows its progress live, and
# prints exact-match accuracy on held-out questions before and after, the
# exported model and a loss plot. Installs and builds first; idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TUNEFLEET_BUILD_DIR:-$root/build}
state=${TUNEFLEET_STATE_DIR:-$root/.state/main-job}

"$root"/scripts/install_deps.sh
"$root"/scripts/build.sh
trainer=$build/trainer/tunefleet-trainer
tunefleet=$build/cli/tunefleet
start_all=$(date +%s)

mkdir -p "$state"
"$build"/demo/tunefleet-demo-data --out "$state/data" >/dev/null
rm -rf "$state/export" "$state/cluster/checkpoints" "$state/loss.png" "$state/loss.svg"

evaluate() {  # model dir -> a few sample answers, then the exact-match line
  "$trainer" evaluate --model "$1" --data "$state/data/test.jsonl" --chat-template chatml --max-new-tokens 12
}
score() { grep "exact match" <<<"$1" | tail -n 1; }

echo "== base model, before fine-tuning"
before=$(evaluate "$root/demo/base_model")
echo "$before"

echo "== local cluster: tunefleet up --workers 2 (log: $state/cluster.log)"
rm -f "$state/cluster/coordinator.address"
# Port 0: never collides with another cluster; `up` writes the address once ready.
# Jobs' paths are confined to roots (docs/security.md): this run's folder
# (data, export; the cluster's own keys and logs stay closed) and the base model's.
"$tunefleet" up --workers 2 --state-dir "$state/cluster" --listen 127.0.0.1:0 \
  --allowed-root "$state" --allowed-root "$root/demo" >"$state/cluster.log" 2>&1 &
up_pid=$!
stop_cluster() {
  if kill -0 "$up_pid" 2>/dev/null; then
    kill -TERM "$up_pid"
    wait "$up_pid" || true
  fi
}
trap stop_cluster EXIT
for _ in $(seq 600); do
  [[ -f $state/cluster/coordinator.address ]] && break
  if ! kill -0 "$up_pid" 2>/dev/null; then cat "$state/cluster.log"; exit 1; fi
  sleep 0.1
done
cat "$state/cluster.log"
TUNEFLEET_COORDINATOR=$(cat "$state/cluster/coordinator.address")
export TUNEFLEET_COORDINATOR

# A run interrupted mid-training left its job queued in the database: cancel it.
for left in $("$tunefleet" --state-dir "$state/cluster" list --state queued --state running | awk 'NR > 1 {print $1}'); do
  "$tunefleet" --state-dir "$state/cluster" cancel "$left"
done

echo "== fine-tuning: tunefleet submit demo/finetune.yaml (2 ranks), tunefleet watch"
start=$(date +%s)
job=$("$tunefleet" --state-dir "$state/cluster" submit "$root/demo/finetune.yaml" \
  --set resources.world_size=2 \
  --set "dataset.path=$state/data/train.jsonl" \
  --set "dataset.validation_path=$state/data/validation.jsonl" \
  --set "checkpoint.directory=$state/cluster/checkpoints" \
  --set "export.directory=$state/export")
echo "submitted $job"
if ! "$tunefleet" --state-dir "$state/cluster" watch "$job"; then
  echo "== the job did not succeed; rank logs:"
  "$tunefleet" --state-dir "$state/cluster" logs "$job" --rank 0 --tail 40 || true
  "$tunefleet" --state-dir "$state/cluster" logs "$job" --rank 1 --tail 40 || true
  exit 1
fi
end=$(date +%s)
"$tunefleet" --state-dir "$state/cluster" plot "$job" --out "$state/loss.png" >/dev/null
"$tunefleet" --state-dir "$state/cluster" plot "$job" --out "$state/loss.svg" >/dev/null

echo "== fine-tuned model"
after=$(evaluate "$state/export")
echo "$after"
echo "== stopping the cluster"
stop_cluster
trap - EXIT
tail -n 5 "$state/cluster.log"
echo
echo "before: $(score "$before")"
echo "after:  $(score "$after")"
echo "fine-tuning ($job, 2 ranks on 2 workers) took $((end - start)) s; data to plot $(($(date +%s) - start_all)) s"
echo "exported model: $state/export"
echo "loss plot:      $state/loss.png (and loss.svg)"
