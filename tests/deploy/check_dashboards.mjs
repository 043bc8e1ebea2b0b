// Checks deploy/grafana/*.json offline: each is a Grafana dashboard with a
// unique uid, a Prometheus datasource variable that every panel and query
// uses, ids and grid positions that do not collide, and PromQL that parses
// (Prometheus' own lezer grammar, after Grafana's variables are substituted).
// A dashboard whose expressions filter on $job must define the job variable.
// Then it checks that a broken expression and a missing datasource are caught.
//
//   node check_dashboards.mjs REPO_ROOT
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parser } from "@prometheus-io/lezer-promql";

const root = process.argv[2];
if (!root) {
  console.error("usage: node check_dashboards.mjs REPO_ROOT");
  process.exit(2);
}

function promqlErrors(expr) {
  const substituted = expr
    .replace(/\$__(rate_interval|interval|range)/g, "5m")
    .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name) => `var_${name}`);
  const tree = parser.parse(substituted);
  const errors = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(`at ${node.from}: ${JSON.stringify(substituted.slice(Math.max(0, node.from - 20), node.to + 20))}`);
    },
  });
  return errors;
}

function check(dashboard, file) {
  const errors = [];
  const err = (m) => errors.push(`${file}: ${m}`);
  if (!dashboard.uid || !dashboard.title) err("needs uid and title");
  const vars = dashboard.templating?.list ?? [];
  const ds = vars.find((v) => v.type === "datasource" && v.query === "prometheus");
  if (!ds) err("needs a datasource variable of type prometheus");
  const dsRef = ds ? `\${${ds.name}}` : null;
  const ids = new Set();
  const cells = new Set();
  let usesJob = false;
  const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  for (const p of panels) {
    if (ids.has(p.id)) err(`panel id ${p.id} repeats`);
    ids.add(p.id);
    const g = p.gridPos;
    if (!g) err(`panel ${p.title}: no gridPos`);
    else {
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          if (cells.has(`${x},${y}`)) {
            err(`panel ${p.title} overlaps another at ${x},${y}`);
            x = 99;
            break;
          }
          cells.add(`${x},${y}`);
        }
    }
    if (p.type === "row") continue;
    if (p.datasource?.uid !== dsRef) err(`panel ${p.title}: datasource must be ${dsRef}`);
    if (!(p.targets ?? []).length) err(`panel ${p.title}: no queries`);
    for (const t of p.targets ?? []) {
      if (t.datasource && t.datasource.uid !== dsRef) err(`panel ${p.title} ${t.refId}: datasource must be ${dsRef}`);
      if (!t.expr) err(`panel ${p.title} ${t.refId}: empty expression`);
      else {
        if (/\$\{?job\b/.test(t.expr)) usesJob = true;
        for (const e of promqlErrors(t.expr)) err(`panel ${p.title} ${t.refId}: PromQL does not parse ${e}`);
      }
    }
  }
  if (usesJob && !vars.some((v) => v.name === "job")) err("uses $job but defines no job variable");
  for (const v of vars) {
    const q = typeof v.query === "object" ? v.query.query : v.query;
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q ?? "");
    if (v.type === "query" && (!m || promqlErrors(m[1]).length)) err(`variable ${v.name}: query ${q} is not label_values(<selector>, label)`);
  }
  return errors;
}

const dir = join(root, "deploy/grafana");
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
let failed = 0;
const uids = new Set();
let first = null;
for (const f of files) {
  let dashboard;
  try {
    dashboard = JSON.parse(readFileSync(join(dir, f), "utf8"));
  } catch (e) {
    console.error(`${f}: not JSON: ${e.message}`);
    failed++;
    continue;
  }
  if (uids.has(dashboard.uid)) {
    console.error(`${f}: uid ${dashboard.uid} repeats`);
    failed++;
  }
  uids.add(dashboard.uid);
  const errors = check(dashboard, f);
  for (const e of errors) console.error(e);
  failed += errors.length;
  const queries = dashboard.panels.flatMap((p) => p.targets ?? []).length;
  console.log(`${f}: ${dashboard.panels.length} panels, ${queries} queries: ${errors.length ? "INVALID" : "valid"}`);
  first ??= dashboard;
}
if (files.length < 2) {
  console.error("expected a cluster and a job dashboard");
  failed++;
}

if (first) {
  const queried = (d) => d.panels.find((p) => p.targets?.length);
  const breaks = {
    "unbalanced parentheses": (d) => (queried(d).targets[0].expr = "sum(rate(tunefleet_restarts_total[5m])"),
    "a panel without the datasource variable": (d) => (queried(d).datasource = { type: "prometheus", uid: "default" }),
    "overlapping panels": (d) => (d.panels[2].gridPos = { ...d.panels[1].gridPos }),
  };
  for (const [what, breakIt] of Object.entries(breaks)) {
    const copy = structuredClone(first);
    breakIt(copy);
    const errors = check(copy, "self-test");
    if (errors.length === 0) {
      console.error(`self-test: ${what} was NOT reported`);
      failed++;
    } else console.log(`self-test: ${what} -> ${errors[0]}`);
  }
}
console.log(failed ? `${failed} problems` : "all dashboards valid");
process.exit(failed ? 1 : 0);
