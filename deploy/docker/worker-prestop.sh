#!/usr/bin/env bash
# The worker pod's preStop hook (the kubelet runs it before SIGTERM, on
# eviction by `kubectl drain`, a rollout, or a pod delete): asks the
# coordinator to drain this worker, so each job on it checkpoints and its gang
# requeues elsewhere, and waits until the worker is DRAINED. It always exits 0:
# if the coordinator cannot be reached, SIGTERM still makes the worker drain
# its own ranks (checkpoint, exit 75) within --drain-grace.
# Environment: TUNEFLEET_WORKER_ID (the node's name), TUNEFLEET_COORDINATOR,
# TUNEFLEET_DRAIN_DEADLINE (s, default 300), TUNEFLEET_PRESTOP_POLL (s, 2).
set -uo pipefail
id=${TUNEFLEET_WORKER_ID:?TUNEFLEET_WORKER_ID is not set}
deadline=${TUNEFLEET_DRAIN_DEADLINE:-300}
poll=${TUNEFLEET_PRESTOP_POLL:-2}
cli=${TUNEFLEET_CLI:-tunefleet}
say() { echo "$(date -u +%FT%TZ) preStop: $*" >&2; }

state() { "$cli" workers 2>/dev/null | awk -v n="workers/$id" '$1 == n { print $2 }'; }

if ! "$cli" drain "$id" --deadline "$deadline" >&2; then
  say "could not ask the coordinator to drain $id; SIGTERM will drain it"
  exit 0
fi
# After the deadline the coordinator stops the gangs itself; the worker then
# needs a few heartbeats to report its ranks gone.
end=$((SECONDS + ${deadline%.*} + 30))
while :; do
  s=$(state)
  if [[ $s == DRAINED ]]; then
    say "$id is DRAINED"
    exit 0
  fi
  if ((SECONDS >= end)); then
    say "$id still ${s:-unknown} after the drain deadline; stopping anyway"
    exit 0
  fi
  sleep "$poll"
done
