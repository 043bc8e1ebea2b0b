"""Renders deploy/kubernetes (the base and every overlay) with `kubectl
kustomize` and validates each object offline:
 1. against the API schemas, unknown fields refused:
    - Kubernetes' own kinds: kubernetes-validate's bundled JSON schemas
      (strict), for the oldest and the newest Kubernetes it bundles
      (K8S_VERSIONS), with the enums and the quantity pattern those schemas
      lack added from schemas/kubernetes-enums.json;
    - prometheus-operator's ServiceMonitor and PrometheusRule: the
      schemas/*-monitoring-v1.json written after their CRDs (jsonschema), and
      a PrometheusRule's groups through `promtool check rules`.
    An apiVersion/kind without a schema is an error.
 2. against how the objects refer to each other (volumes, ConfigMaps, PVCs,
    $(VAR)s, Service and PDB selectors, named ports, ServiceMonitor) and
    against what the deployment promises (docs/operations.md): grpc probes,
    a worker per GPU node that `kubectl drain` evicts, a termination grace
    period longer than the drain, /dev/shm, the PrometheusRule equal to
    deploy/prometheus/tunefleet-alerts.yaml.
Then it breaks a rendered copy on purpose, one way at a time, and fails
unless each break is reported as expected (a validator that accepts anything
is no test).

  .venv/bin/python validate_manifests.py REPO_ROOT      exit 0: all valid
Environment: KUBECTL, PROMTOOL (default: the ones on PATH).
"""
import copy
import json
import math
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from deploy_tools import missing, promtool_check_rules, repo_root, self_test, tool

try:
    import jsonschema
    import kubernetes_validate.utils as kv
    import yaml
    from referencing import Registry, Resource
except ImportError as e:
    missing(f"the Python module {e.name} (in the project virtualenv .venv, from requirements.txt)")

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
# The oldest Kubernetes that kubernetes-validate bundles (docs/operations.md
# asks for 1.24+, for grpc probes) and the newest: a field must exist in both.
K8S_VERSIONS = (kv.all_versions()[0], kv.latest_version())

root = repo_root("validate_manifests.py")
kubectl = tool("kubectl", "KUBECTL")
promtool = tool("promtool", "PROMTOOL")


# --- 1. Schemas --------------------------------------------------------------

def merge(target, patch):
    """Merges patch into target; a dict in patch must meet a dict in target
    (it extends a field that exists). Returns False where one is missing."""
    for key, value in patch.items():
        if isinstance(value, dict):
            if not isinstance(target.get(key), dict) or not merge(target[key], value):
                return False
        else:
            target[key] = value
    return True


def enum_entries():
    """schemas/kubernetes-enums.json as (definition, field, patch) entries."""
    additions = json.loads((SCHEMAS / "kubernetes-enums.json").read_text())
    for definition, patch in additions.items():
        if definition.startswith("$"):
            continue
        if list(patch) == ["properties"]:
            for field, sub in patch["properties"].items():
                yield definition, field, {"properties": {field: sub}}
        else:
            yield definition, "", patch


@lru_cache(maxsize=None)
def k8s_definitions(version):
    defs = copy.deepcopy(kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version))
    for definition, field, patch in enum_entries():
        target = defs["$defs"].get(definition)
        ok = target is not None and merge(target, patch)
        if not ok and version == K8S_VERSIONS[-1]:
            print(f"schemas/kubernetes-enums.json: {definition} {field}: no such definition or field in "
                  f"Kubernetes {version}'s schemas", file=sys.stderr)
            sys.exit(1)
    return defs


@lru_cache(maxsize=None)
def registry(version):
    return Resource.from_contents(k8s_definitions(version)) @ Registry()


@lru_cache(maxsize=None)
def validator(version, api_version, kind):
    """A jsonschema validator for apiVersion/kind, or None without a schema."""
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group == "monitoring.coreos.com":
        path = SCHEMAS / f"{kind.lower()}-monitoring-{api_version.split('/')[1]}.json"
        if not path.exists():
            return None
        schema = json.loads(path.read_text())
    else:
        # kubernetes-validate's file naming: apps/v1 Deployment -> deployment-apps-v1.json
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        try:
            schema = kv.schema_contents(
                f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group_version}.json", version)
        except FileNotFoundError:
            return None
    return jsonschema.Draft202012Validator(schema, registry=registry(version))


def json_path(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the object)"


def schema_errors(o):
    """Schema errors of one object, each 'path: message' (tagged with the
    Kubernetes versions it holds for, unless all), or None without a schema."""
    found = {}  # line -> versions
    for version in K8S_VERSIONS:
        v = validator(version, o["apiVersion"], o["kind"])
        if v is None:
            return None
        for e in sorted(v.iter_errors(o), key=lambda e: list(map(str, e.absolute_path))):
            message = e.message if len(e.message) < 300 else e.message[:300] + "..."
            found.setdefault(f"{json_path(e.absolute_path)}: {message}", []).append(version)
    return [line if len(versions) == len(K8S_VERSIONS) else f"(Kubernetes {', '.join(versions)}) {line}"
            for line, versions in found.items()]


def rule_errors(o):
    """A PrometheusRule's groups through `promtool check rules`."""
    groups = (o.get("spec") or {}).get("groups")
    if not isinstance(groups, list):
        return []
    ok, per_rule, output = promtool_check_rules(promtool, groups)
    if ok:
        return []
    if per_rule:
        return [f"promtool check rules: {name}: {why}" for name, why in per_rule.items()]
    return [f"promtool check rules: {output}"]


# --- 2. References and promises ----------------------------------------------

def get(o, *keys, default=None):
    for k in keys:
        if isinstance(o, dict):
            o = o.get(k)
        elif isinstance(o, list) and isinstance(k, int) and -len(o) <= k < len(o):
            o = o[k]
        else:
            return default
        if o is None:
            return default
    return o


def matches(selector, labels):
    return (isinstance(selector, dict) and len(selector) > 0 and isinstance(labels, dict)
            and all(labels.get(k) == v for k, v in selector.items()))


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def pod_templates(objects):
    return [(o, get(o, "spec", "template", default={})) for o in objects
            if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")]


def validate(objects, where):
    errors = []

    def err(o, message):
        who = f"{o.get('kind')}/{get(o, 'metadata', 'name')}: " if o else ""
        errors.append(f"{where}: {who}{message}")

    # 1. Schemas.
    valid = []
    for o in objects:
        if not isinstance(o, dict) or not isinstance(o.get("apiVersion"), str) or not isinstance(o.get("kind"), str):
            err(None, f"not a Kubernetes object: {json.dumps(o, default=str)[:80]}")
            continue
        valid.append(o)
        problems = schema_errors(o)
        if problems is None:
            err(o, f"no schema for {o['apiVersion']} {o['kind']}")
            continue
        for p in problems:
            err(o, f"schema: {p}")
        if o["kind"] == "PrometheusRule":
            for p in rule_errors(o):
                err(o, p)
    objects = valid

    # 2. References between objects.
    def by_kind(kind):
        return [o for o in objects if o.get("kind") == kind]

    config_maps = {get(c, "metadata", "name"): get(c, "data", default={}) for c in by_kind("ConfigMap")}
    claims = {get(c, "metadata", "name") for c in by_kind("PersistentVolumeClaim")}
    templates = pod_templates(objects)
    for owner, template in templates:
        spec = get(template, "spec", default={})
        volumes = {v.get("name"): v for v in get(spec, "volumes", default=[])}
        vcts = {get(v, "metadata", "name") for v in get(owner, "spec", "volumeClaimTemplates", default=[])}
        for v in volumes.values():
            claim = get(v, "persistentVolumeClaim", "claimName")
            if v.get("persistentVolumeClaim") is not None and claim not in claims:
                err(owner, f"volume {v.get('name')}: no PersistentVolumeClaim {claim}")
            cm = get(v, "configMap", "name")
            if v.get("configMap") is not None and cm not in config_maps:
                err(owner, f"volume {v.get('name')}: no ConfigMap {cm}")
        if not matches(get(owner, "spec", "selector", "matchLabels"), get(template, "metadata", "labels")):
            err(owner, "spec.selector does not select the pod template's labels")
        for c in get(spec, "initContainers", default=[]) + get(spec, "containers", default=[]):
            defined = set()
            for source in c.get("envFrom") or []:
                name = get(source, "configMapRef", "name")
                if name and name not in config_maps:
                    err(owner, f"container {c.get('name')}: envFrom: no ConfigMap {name}")
                for key in config_maps.get(name) or {}:
                    defined.add((source.get("prefix") or "") + key)

            def refs(text, what):
                for m in re.finditer(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", str(text)):
                    if m.group(1) not in defined:
                        err(owner, f"container {c.get('name')}: {what} uses $({m.group(1)}), which is not defined before it")

            for e in c.get("env") or []:
                if e.get("value") is not None:
                    refs(e["value"], f"env {e.get('name')}")
                key = get(e, "valueFrom", "configMapKeyRef")
                if key and not (config_maps.get(key.get("name")) or {}).get(key.get("key")):
                    err(owner, f"env {e.get('name')}: no key {key.get('key')} in ConfigMap {key.get('name')}")
                defined.add(e.get("name"))
            for a in (c.get("command") or []) + (c.get("args") or []):
                refs(a, "the command line")
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes and m.get("name") not in vcts:
                    err(owner, f"container {c.get('name')}: volumeMount {m.get('name')}: no such volume")
            ports = {p.get("name") for p in c.get("ports") or [] if p.get("name")}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = get(c, probe, "httpGet", "port") or get(c, probe, "tcpSocket", "port")
                if isinstance(port, str) and port not in ports:
                    err(owner, f"container {c.get('name')}: {probe} names port {port}, not declared")

    def pods_matching(selector, namespace):
        return [(owner, template) for owner, template in templates
                if (get(owner, "metadata", "namespace") or "") == (namespace or "")
                and matches(selector, get(template, "metadata", "labels"))]

    services = by_kind("Service")
    for s in services:
        pods = pods_matching(get(s, "spec", "selector"), get(s, "metadata", "namespace"))
        if not pods:
            err(s, "selects no pod template")
            continue
        for port in get(s, "spec", "ports", default=[]):
            target = port.get("targetPort")
            if not isinstance(target, str):
                continue
            found = any(p.get("name") == target for _, t in pods
                        for c in get(t, "spec", "containers", default=[]) for p in c.get("ports") or [])
            if not found:
                err(s, f"port {port.get('name')}: targetPort {target} is no container port of the pods it selects")
    for pdb in by_kind("PodDisruptionBudget"):
        if not pods_matching(get(pdb, "spec", "selector", "matchLabels"), get(pdb, "metadata", "namespace")):
            err(pdb, "selects no pods")
    for sm in by_kind("ServiceMonitor"):
        selected = [s for s in services
                    if (get(s, "metadata", "namespace") or "") == (get(sm, "metadata", "namespace") or "")
                    and matches(get(sm, "spec", "selector", "matchLabels"), get(s, "metadata", "labels"))]
        if not selected:
            err(sm, "selects no Service")
        for ep in get(sm, "spec", "endpoints", default=[]):
            for s in selected:
                if not any(p.get("name") == ep.get("port") for p in get(s, "spec", "ports", default=[])):
                    err(sm, f"Service {get(s, 'metadata', 'name')} has no port named {ep.get('port')}")
            if ep.get("honorLabels") is not True:
                err(sm, "endpoints need honorLabels: true (tunefleet's `job` label is the job id)")

    # 3. What docs/operations.md promises about the deployment.
    config = config_maps.get("tunefleet-config")
    if config is None:
        err(None, "no ConfigMap tunefleet-config")
    config = config or {}
    coordinator = next((s for s in by_kind("StatefulSet") if get(s, "metadata", "name") == "tunefleet-coordinator"), None)
    if not coordinator:
        err(None, "no StatefulSet tunefleet-coordinator")
    else:
        if get(coordinator, "spec", "replicas") != 1:
            err(coordinator, "must run exactly one replica (SQLite)")
        if not get(coordinator, "spec", "volumeClaimTemplates"):
            err(coordinator, "needs a volumeClaimTemplate for its database")
        c = get(coordinator, "spec", "template", "spec", "containers", 0, default={})
        for probe in ("readinessProbe", "livenessProbe"):
            if not get(c, probe, "grpc"):
                err(coordinator, f"{probe} must use gRPC health (grpc:)")
        if not any(str(a).startswith("--database=/var/lib/tunefleet/") for a in c.get("args") or []):
            err(coordinator, "database not on its volume")
    if any("worker" in str(get(d, "metadata", "name")) for d in by_kind("DaemonSet")):
        err(None, "workers must not be a DaemonSet: kubectl drain does not evict DaemonSet pods")
    worker = next((d for d in by_kind("Deployment") if get(d, "metadata", "name") == "tunefleet-worker"), None)
    if not worker:
        err(None, "no Deployment tunefleet-worker")
    else:
        spec = get(worker, "spec", "template", "spec", default={})
        labels = get(worker, "spec", "template", "metadata", "labels")
        c = get(spec, "containers", 0, default={})
        if not spec.get("nodeSelector"):
            err(worker, "needs a nodeSelector for GPU nodes")
        if not number(get(c, "resources", "limits", "nvidia.com/gpu")) > 0:
            err(worker, "needs nvidia.com/gpu limits")
        anti = get(spec, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", default=[])
        if not any(t.get("topologyKey") == "kubernetes.io/hostname" and matches(get(t, "labelSelector", "matchLabels"), labels)
                   for t in anti):
            err(worker, "needs required pod anti-affinity on kubernetes.io/hostname (one worker per node)")
        if not get(c, "lifecycle", "preStop", "exec", "command"):
            err(worker, "needs a preStop hook that drains the worker")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        deadline = number(config.get("TUNEFLEET_DRAIN_DEADLINE"))
        if not number(grace) > deadline + 30:
            err(worker, f"terminationGracePeriodSeconds {grace} must exceed TUNEFLEET_DRAIN_DEADLINE + 30 ({deadline + 30:g})")
        if not number(grace) > number(config.get("WORKER_DRAIN_GRACE")) + number(config.get("WORKER_STOP_GRACE")):
            err(worker, f"terminationGracePeriodSeconds {grace} must exceed WORKER_DRAIN_GRACE + WORKER_STOP_GRACE")
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        mounts = c.get("volumeMounts") or []

        def mount_at(path):
            return next((m for m in mounts if m.get("mountPath") == path), {})

        if get(volumes.get(mount_at("/dev/shm").get("name")), "emptyDir", "medium") != "Memory":
            err(worker, "/dev/shm must be an emptyDir with medium Memory (NCCL)")
        shared = volumes.get(mount_at("/shared").get("name"))
        claim = next((o for o in by_kind("PersistentVolumeClaim")
                      if get(o, "metadata", "name") == get(shared, "persistentVolumeClaim", "claimName")), None)
        if "ReadWriteMany" not in get(claim, "spec", "accessModes", default=[]) or mount_at("/shared").get("readOnly"):
            err(worker, "/shared must be a ReadWriteMany PersistentVolumeClaim mounted read-write")
        if not any(matches(get(p, "spec", "selector", "matchLabels"), labels) for p in by_kind("PodDisruptionBudget")):
            err(worker, "no PodDisruptionBudget covers the workers")
    if not by_kind("ServiceMonitor"):
        err(None, "no ServiceMonitor")
    rules = by_kind("PrometheusRule")
    alerts = yaml.safe_load((root / "deploy/prometheus/tunefleet-alerts.yaml").read_text())
    if not rules:
        err(None, "no PrometheusRule")
    elif rules[0].get("spec") != alerts:  # dict equality: kustomize reorders keys
        err(rules[0], "differs from deploy/prometheus/tunefleet-alerts.yaml: run "
            "deploy/prometheus/to_prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml")
    return errors


# --- Every kustomization under deploy/kubernetes --------------------------------

def main():
    kdir = root / "deploy/kubernetes"
    dirs = [kdir / "base"]
    overlays = kdir / "overlays"
    if overlays.is_dir():
        dirs += sorted(d for d in overlays.iterdir() if d.is_dir())
    print(f"Kubernetes schemas: kubernetes-validate {kv.__version__} (strict)"
          f", Kubernetes {' and '.join(K8S_VERSIONS)}; prometheus-operator CRDs: tests/deploy/schemas")
    failed = 0
    base = None
    for d in dirs:
        name = d.relative_to(root)
        result = subprocess.run([kubectl, "kustomize", str(d)], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"{name}: kubectl kustomize failed: {result.stderr.strip()}", file=sys.stderr)
            failed += 1
            continue
        try:
            objects = [o for o in yaml.safe_load_all(result.stdout) if o is not None]
        except yaml.YAMLError as e:
            print(f"{name}: YAML: {e}", file=sys.stderr)
            failed += 1
            continue
        errors = validate(objects, str(name))
        for e in errors:
            print(e, file=sys.stderr)
        failed += len(errors)
        kinds = ", ".join(dict.fromkeys(o.get("kind") for o in objects))
        print(f"{name}: {len(objects)} objects ({kinds}): {'INVALID' if errors else 'valid'}")
        if d.name == "base":
            base = objects

    # The validator must catch deliberate breaks of a valid rendering.
    if base:
        def worker(objs):
            return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "tunefleet-worker")

        def container(objs):
            return worker(objs)["spec"]["template"]["spec"]["containers"][0]

        def first(kind):
            return lambda objs: next(o for o in objs if o["kind"] == kind)

        breaks = [
            ("replicas as a string", lambda objs: worker(objs)["spec"].update(replicas="two"),
             "spec.replicas: 'two' is not of type"),
            ("a container without a name", lambda objs: container(objs).pop("name"),
             "'name' is a required property"),
            ("an unknown kind", lambda objs: objs.append({"apiVersion": "apps/v1", "kind": "Deploymnt", "metadata": {"name": "x"}}),
             "no schema for apps/v1 Deploymnt"),
            ("an invalid enum (imagePullPolicy)", lambda objs: container(objs).update(imagePullPolicy="Sometimes"),
             "imagePullPolicy: 'Sometimes' is not one of"),
            ("a grace period shorter than the drain",
             lambda objs: worker(objs)["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=60),
             "terminationGracePeriodSeconds 60 must exceed TUNEFLEET_DRAIN_DEADLINE"),
            ("a mount of a missing volume", lambda objs: container(objs)["volumeMounts"][0].update(name="nope"),
             "volumeMount nope: no such volume"),
            ("an undefined $(VAR)", lambda objs: container(objs)["args"].append("--x=$(NOT_DEFINED)"),
             "uses $(NOT_DEFINED)"),
            ("a Service selecting nothing", lambda objs: first("Service")(objs)["spec"].update(selector={"app": "none"}),
             "selects no pod template"),
            ("workers as a DaemonSet", lambda objs: worker(objs).update(kind="DaemonSet"),
             "workers must not be a DaemonSet"),
            ("rules out of sync", lambda objs: first("PrometheusRule")(objs)["spec"]["groups"][0]["rules"].pop(),
             "differs from deploy/prometheus/tunefleet-alerts.yaml"),
            # Beyond the Kubernetes schemas: the CRD schemas and promtool.
            ("an unknown field in the pod spec", lambda objs: worker(objs)["spec"]["template"]["spec"].update(nodeSelecter={"a": "b"}),
             "Additional properties are not allowed ('nodeSelecter' was unexpected)"),
            ("a memory limit that is no quantity",
             lambda objs: container(objs)["resources"]["limits"].update(memory="480 GiB"),
             "resources.limits.memory"),
            ("an unknown ServiceMonitor endpoint field",
             lambda objs: first("ServiceMonitor")(objs)["spec"]["endpoints"][0].update(honourLabels=True),
             "'honourLabels' was unexpected"),
            ("a ServiceMonitor interval that is no duration",
             lambda objs: first("ServiceMonitor")(objs)["spec"]["endpoints"][0].update(interval="15 seconds"),
             "interval: '15 seconds' does not match"),
            ("a PrometheusRule expression that does not parse",
             lambda objs: first("PrometheusRule")(objs)["spec"]["groups"][0]["rules"][0].update(expr="changes(tunefleet_job_restarts_used[1h] >= 3"),
             "promtool check rules: TunefleetJobRestartingRepeatedly: could not parse expression"),
        ]
        failed += self_test(breaks, lambda: copy.deepcopy(base), validate)
    print(f"{failed} problems" if failed else "all manifests valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
