#!/usr/bin/env bash
# Prints deploy/prometheus/tunefleet-alerts.yaml wrapped as a prometheus-operator
# PrometheusRule. Regenerate after editing the rules:
#   deploy/prometheus/to_prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml
# (tests/deploy fails while the two differ).
set -euo pipefail
rules=${1:-$(dirname "$0")/tunefleet-alerts.yaml}
cat <<'HEADER'
# Generated from deploy/prometheus/tunefleet-alerts.yaml by
# deploy/prometheus/to_prometheusrule.sh: edit the rules there, not here.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: tunefleet
spec:
HEADER
grep -v '^#' "$rules" | sed -e 's/^\(.\)/  \1/'
