#!/usr/bin/env bash
# The worker container's command. A worker keeps its state in the coordinator
# across pods: one whose previous pod was drained (kubectl drain, a rollout)
# would come back DRAINED and take no work. A pod that Kubernetes scheduled
# onto the node means the node is in service again, so with
# TUNEFLEET_WORKER_READY_ON_START=true (the default) a DRAINED worker is
# uncordoned first. A CORDONED one (`tunefleet cordon`) stays as it is. Then
# tunefleet-worker replaces this script, with its arguments.
set -uo pipefail
id=${TUNEFLEET_WORKER_ID:-}
cli=${TUNEFLEET_CLI:-tunefleet}
if [[ ${TUNEFLEET_WORKER_READY_ON_START:-true} == true && -n $id ]]; then
  state=$("$cli" workers 2>/dev/null | awk -v n="workers/$id" '$1 == n { print $2 }')
  if [[ $state == DRAINED ]]; then
    echo "entrypoint: workers/$id was DRAINED by its previous pod; making it READY" >&2
    "$cli" uncordon "$id" >&2 || echo "entrypoint: uncordon failed; run: tunefleet uncordon $id" >&2
  fi
fi
exec "${TUNEFLEET_WORKER_BIN:-tunefleet-worker}" "$@"
