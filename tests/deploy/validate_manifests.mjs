// Renders deploy/kubernetes (the base and every overlay) with `kubectl
// kustomize` and validates each object offline:
//  1. against the Kubernetes API schemas (kubernetes-models; prometheus-operator's
//     CRDs through @kubernetes-models/prometheus-operator): types, required
//     fields, enums, formats. An apiVersion/kind without a schema is an error.
//  2. against how the objects refer to each other (volumes, ConfigMaps, PVCs,
//     $(VAR)s, Service and PDB selectors, named ports, ServiceMonitor) and
//     against what the deployment promises (docs/operations.md): grpc probes,
//     a worker per GPU node that `kubectl drain` evicts, a termination grace
//     period longer than the drain, /dev/shm, the PrometheusRule equal to
//     deploy/prometheus/tunefleet-alerts.yaml.
// Then it breaks a rendered copy on purpose, one way at a time, and fails
// unless each break is reported (a validator that accepts anything is no test).
//
//   node validate_manifests.mjs REPO_ROOT        exit 0: all valid
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";

const root = process.argv[2];
if (!root) {
  console.error("usage: node validate_manifests.mjs REPO_ROOT");
  process.exit(2);
}
const kubectl = process.env.KUBECTL || "kubectl";

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates =
    group === "monitoring.coreos.com"
      ? [`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`]
      : [`kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`];
  for (const c of candidates) {
    try {
      const module = await import(c);
      if (module[kind]) return module[kind];
    } catch {
      // try the next
    }
  }
  return null;
}

function render(dir) {
  return execFileSync(kubectl, ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function podTemplates(objects) {
  const out = [];
  for (const o of objects) {
    if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind)) {
      out.push({ owner: o, template: o.spec?.template ?? {} });
    }
  }
  return out;
}

// JSON with keys sorted: kustomize reorders keys.
const canonical = (v) =>
  Array.isArray(v) ? `[${v.map(canonical).join(",")}]`
  : v && typeof v === "object" ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`
  : JSON.stringify(v);

const matches = (selector, labels) =>
  selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

async function validate(objects, where) {
  const errors = [];
  const err = (o, message) => errors.push(`${where}: ${o ? `${o.kind}/${o.metadata?.name}: ` : ""}${message}`);

  // 1. Schemas.
  for (const o of objects) {
    if (!o || typeof o !== "object" || !o.apiVersion || !o.kind) {
      err(null, `not a Kubernetes object: ${JSON.stringify(o)?.slice(0, 80)}`);
      continue;
    }
    const Model = await modelFor(o.apiVersion, o.kind);
    if (!Model) {
      err(o, `no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(structuredClone(o)).validate();
    } catch (e) {
      err(o, `schema: ${e.message}`);
    }
  }

  // 2. References between objects.
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  const configMaps = new Map(byKind("ConfigMap").map((c) => [c.metadata.name, c.data ?? {}]));
  const claims = new Set(byKind("PersistentVolumeClaim").map((c) => c.metadata.name));
  const templates = podTemplates(objects);
  for (const { owner, template } of templates) {
    const spec = template.spec ?? {};
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const vcts = new Set((owner.spec?.volumeClaimTemplates ?? []).map((v) => v.metadata?.name));
    for (const v of volumes.values()) {
      if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName)) {
        err(owner, `volume ${v.name}: no PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
      }
      if (v.configMap && !configMaps.has(v.configMap.name)) err(owner, `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    }
    if (!matches(owner.spec?.selector?.matchLabels, template.metadata?.labels)) {
      err(owner, "spec.selector does not select the pod template's labels");
    }
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const defined = new Set();
      for (const from of c.envFrom ?? []) {
        const name = from.configMapRef?.name;
        if (name && !configMaps.has(name)) err(owner, `container ${c.name}: envFrom: no ConfigMap ${name}`);
        for (const key of Object.keys(configMaps.get(name) ?? {})) defined.add((from.prefix ?? "") + key);
      }
      const refs = (text, what) => {
        for (const m of String(text).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(m[1])) err(owner, `container ${c.name}: ${what} uses $(${m[1]}), which is not defined before it`);
        }
      };
      for (const e of c.env ?? []) {
        if (e.value !== undefined) refs(e.value, `env ${e.name}`);
        const key = e.valueFrom?.configMapKeyRef;
        if (key && !(configMaps.get(key.name) ?? {})[key.key]) err(owner, `env ${e.name}: no key ${key.key} in ConfigMap ${key.name}`);
        defined.add(e.name);
      }
      for (const a of [...(c.command ?? []), ...(c.args ?? [])]) refs(a, "the command line");
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name) && !vcts.has(m.name)) err(owner, `container ${c.name}: volumeMount ${m.name}: no such volume`);
      }
      const ports = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        const p = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof p === "string" && !ports.has(p)) err(owner, `container ${c.name}: ${probe} names port ${p}, not declared`);
      }
    }
  }
  const podsMatching = (selector, namespace) =>
    templates.filter(
      ({ owner, template }) => (owner.metadata?.namespace ?? "") === (namespace ?? "") && matches(selector, template.metadata?.labels),
    );
  const services = byKind("Service");
  for (const s of services) {
    const pods = podsMatching(s.spec?.selector, s.metadata?.namespace);
    if (pods.length === 0) {
      err(s, "selects no pod template");
      continue;
    }
    for (const port of s.spec?.ports ?? []) {
      if (typeof port.targetPort !== "string") continue;
      const found = pods.some(({ template }) =>
        (template.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort)),
      );
      if (!found) err(s, `port ${port.name}: targetPort ${port.targetPort} is no container port of the pods it selects`);
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    if (podsMatching(pdb.spec?.selector?.matchLabels, pdb.metadata?.namespace).length === 0) err(pdb, "selects no pods");
  }
  for (const sm of byKind("ServiceMonitor")) {
    const selected = services.filter(
      (s) => (s.metadata?.namespace ?? "") === (sm.metadata?.namespace ?? "") && matches(sm.spec?.selector?.matchLabels, s.metadata?.labels),
    );
    if (selected.length === 0) err(sm, "selects no Service");
    for (const ep of sm.spec?.endpoints ?? []) {
      for (const s of selected) {
        if (!(s.spec?.ports ?? []).some((p) => p.name === ep.port)) err(sm, `Service ${s.metadata.name} has no port named ${ep.port}`);
      }
      if (ep.honorLabels !== true) err(sm, "endpoints need honorLabels: true (tunefleet's `job` label is the job id)");
    }
  }

  // 3. What docs/operations.md promises about the deployment.
  const config = configMaps.get("tunefleet-config");
  if (!config) err(null, "no ConfigMap tunefleet-config");
  const num = (key) => Number(config?.[key]);
  const coordinator = byKind("StatefulSet").find((s) => s.metadata.name === "tunefleet-coordinator");
  if (!coordinator) err(null, "no StatefulSet tunefleet-coordinator");
  else {
    if (coordinator.spec.replicas !== 1) err(coordinator, "must run exactly one replica (SQLite)");
    if (!(coordinator.spec.volumeClaimTemplates ?? []).length) err(coordinator, "needs a volumeClaimTemplate for its database");
    const c = coordinator.spec.template.spec.containers[0];
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      if (!c[probe]?.grpc) err(coordinator, `${probe} must use gRPC health (grpc:)`);
    }
    if (!(c.args ?? []).some((a) => a.startsWith("--database=/var/lib/tunefleet/"))) err(coordinator, "database not on its volume");
  }
  if (byKind("DaemonSet").some((d) => /worker/.test(d.metadata.name))) {
    err(null, "workers must not be a DaemonSet: kubectl drain does not evict DaemonSet pods");
  }
  const worker = byKind("Deployment").find((d) => d.metadata.name === "tunefleet-worker");
  if (!worker) err(null, "no Deployment tunefleet-worker");
  else {
    const spec = worker.spec.template.spec;
    const c = spec.containers[0];
    if (!spec.nodeSelector || Object.keys(spec.nodeSelector).length === 0) err(worker, "needs a nodeSelector for GPU nodes");
    if (!(Number(c.resources?.limits?.["nvidia.com/gpu"]) > 0)) err(worker, "needs nvidia.com/gpu limits");
    const anti = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
    if (!anti.some((t) => t.topologyKey === "kubernetes.io/hostname" && matches(t.labelSelector?.matchLabels, worker.spec.template.metadata.labels))) {
      err(worker, "needs required pod anti-affinity on kubernetes.io/hostname (one worker per node)");
    }
    if (!c.lifecycle?.preStop?.exec?.command?.length) err(worker, "needs a preStop hook that drains the worker");
    const grace = spec.terminationGracePeriodSeconds ?? 30;
    if (!(grace > num("TUNEFLEET_DRAIN_DEADLINE") + 30)) {
      err(worker, `terminationGracePeriodSeconds ${grace} must exceed TUNEFLEET_DRAIN_DEADLINE + 30 (${num("TUNEFLEET_DRAIN_DEADLINE") + 30})`);
    }
    if (!(grace > num("WORKER_DRAIN_GRACE") + num("WORKER_STOP_GRACE"))) {
      err(worker, `terminationGracePeriodSeconds ${grace} must exceed WORKER_DRAIN_GRACE + WORKER_STOP_GRACE`);
    }
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    const mountAt = (path) => volumes.get((c.volumeMounts ?? []).find((m) => m.mountPath === path)?.name);
    if (mountAt("/dev/shm")?.emptyDir?.medium !== "Memory") err(worker, "/dev/shm must be an emptyDir with medium Memory (NCCL)");
    const shared = mountAt("/shared");
    const claim = objects.find((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === shared?.persistentVolumeClaim?.claimName);
    if (!claim?.spec?.accessModes?.includes("ReadWriteMany") || (c.volumeMounts ?? []).find((m) => m.mountPath === "/shared")?.readOnly) {
      err(worker, "/shared must be a ReadWriteMany PersistentVolumeClaim mounted read-write");
    }
    if (!byKind("PodDisruptionBudget").some((p) => matches(p.spec?.selector?.matchLabels, worker.spec.template.metadata.labels))) {
      err(worker, "no PodDisruptionBudget covers the workers");
    }
  }
  if (byKind("ServiceMonitor").length === 0) err(null, "no ServiceMonitor");
  const rule = byKind("PrometheusRule")[0];
  const alerts = parseYaml(readFileSync(join(root, "deploy/prometheus/tunefleet-alerts.yaml"), "utf8"));
  if (!rule) err(null, "no PrometheusRule");
  else if (canonical(rule.spec) !== canonical(alerts)) {
    err(rule, "differs from deploy/prometheus/tunefleet-alerts.yaml: run deploy/prometheus/to_prometheusrule.sh > deploy/kubernetes/base/prometheusrule.yaml");
  }
  return errors;
}

// Every kustomization under deploy/kubernetes.
const kdir = join(root, "deploy/kubernetes");
const dirs = [join(kdir, "base")];
const overlays = join(kdir, "overlays");
if (existsSync(overlays)) {
  for (const d of readdirSync(overlays, { withFileTypes: true })) if (d.isDirectory()) dirs.push(join(overlays, d.name));
}
let failed = 0;
let base = null;
for (const dir of dirs) {
  const name = dir.slice(root.length + 1);
  let text;
  try {
    text = render(dir);
  } catch (e) {
    console.error(`${name}: kubectl kustomize failed: ${e.stderr || e.message}`);
    failed++;
    continue;
  }
  const docs = parseAllDocuments(text);
  const parseErrors = docs.flatMap((d) => d.errors);
  if (parseErrors.length) {
    console.error(`${name}: YAML: ${parseErrors.map((e) => e.message).join("; ")}`);
    failed++;
    continue;
  }
  const objects = docs.map((d) => d.toJS()).filter((o) => o !== null);
  const errors = await validate(objects, name);
  for (const e of errors) console.error(e);
  failed += errors.length;
  console.log(`${name}: ${objects.length} objects (${[...new Set(objects.map((o) => o.kind))].join(", ")}): ${errors.length ? "INVALID" : "valid"}`);
  if (dir.endsWith("/base")) base = objects;
}

// The validator must catch deliberate breaks of a valid rendering.
if (base) {
  const workerOf = (objs) => objs.find((o) => o.kind === "Deployment" && o.metadata.name === "tunefleet-worker");
  const breaks = {
    "replicas as a string": (objs) => (workerOf(objs).spec.replicas = "two"),
    "a container without a name": (objs) => delete workerOf(objs).spec.template.spec.containers[0].name,
    "an unknown kind": (objs) => objs.push({ apiVersion: "apps/v1", kind: "Deploymnt", metadata: { name: "x" } }),
    "an invalid enum (imagePullPolicy)": (objs) => (workerOf(objs).spec.template.spec.containers[0].imagePullPolicy = "Sometimes"),
    "a grace period shorter than the drain": (objs) => (workerOf(objs).spec.template.spec.terminationGracePeriodSeconds = 60),
    "a mount of a missing volume": (objs) => (workerOf(objs).spec.template.spec.containers[0].volumeMounts[0].name = "nope"),
    "an undefined $(VAR)": (objs) => workerOf(objs).spec.template.spec.containers[0].args.push("--x=$(NOT_DEFINED)"),
    "a Service selecting nothing": (objs) => (objs.find((o) => o.kind === "Service").spec.selector = { app: "none" }),
    "workers as a DaemonSet": (objs) => (workerOf(objs).kind = "DaemonSet"),
    "rules out of sync": (objs) => (objs.find((o) => o.kind === "PrometheusRule").spec.groups[0].rules.pop()),
  };
  for (const [what, breakIt] of Object.entries(breaks)) {
    const copy = structuredClone(base);
    breakIt(copy);
    const errors = await validate(copy, `self-test (${what})`);
    if (errors.length === 0) {
      console.error(`self-test: ${what} was NOT reported`);
      failed++;
    } else {
      console.log(`self-test: ${what} -> ${errors[0]}`);
    }
  }
}
console.log(failed ? `${failed} problems` : "all manifests valid");
process.exit(failed ? 1 : 0);
