"""Checks deploy/grafana/*.json offline: each is a Grafana dashboard with a
unique uid, a Prometheus datasource variable that every panel and query
uses, ids and grid positions that do not collide, and PromQL that Prometheus
accepts: after Grafana's variables are substituted, every panel query (and
every label_values() variable's selector) becomes the expr of a recording
rule in a temporary rules file that `promtool check rules` parses and
type-checks; its complaints are mapped back to the dashboard, panel and query.
A dashboard whose expressions filter on $job must define the job variable.
Then it checks that a broken expression, a missing datasource and
overlapping panels are caught.

  .venv/bin/python check_dashboards.py REPO_ROOT
Environment: PROMTOOL (default: the one on PATH).
"""
import copy
import json
import re
import sys

from deploy_tools import promtool_check_rules, repo_root, self_test, tool

root = repo_root("check_dashboards.py")
promtool = tool("promtool", "PROMTOOL")


def substitute(expr):
    """Grafana's variables replaced by what PromQL accepts in their place."""
    expr = re.sub(r"\$__(rate_interval|interval|range)", "5m", expr)
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: f"var_{m.group(1)}", expr)


def promql_errors(queries):
    """queries: (label, expr) pairs. Returns {label: promtool's complaint}
    for those that are not valid PromQL, in one promtool run."""
    if not queries:
        return {}
    rules = [{"record": f"tunefleet_dashboard_check:q{i}", "expr": substitute(expr)} for i, (_, expr) in enumerate(queries)]
    ok, per_rule, output = promtool_check_rules(promtool, [{"name": "dashboard", "rules": rules}])
    if ok:
        return {}
    errors = {}
    for name, why in per_rule.items():
        m = re.fullmatch(r"tunefleet_dashboard_check:q(\d+)", name)
        if m:
            label, expr = queries[int(m.group(1))]
            errors[label] = f"{why} in {json.dumps(substitute(expr))}"
    if not errors:  # promtool failed on something it did not tie to a query
        errors["(promtool)"] = output
    return errors


def check(dashboard, file):
    errors = []

    def err(message):
        errors.append(f"{file}: {message}")

    if not dashboard.get("uid") or not dashboard.get("title"):
        err("needs uid and title")
    variables = (dashboard.get("templating") or {}).get("list") or []
    ds = next((v for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"), None)
    if not ds:
        err("needs a datasource variable of type prometheus")
    ds_ref = f"${{{ds['name']}}}" if ds else None
    ids = set()
    cells = set()
    uses_job = False
    queries = []  # (label, expr) for promtool
    panels = [q for p in dashboard.get("panels") or [] for q in [p] + (p.get("panels") or [])]
    for p in panels:
        title = p.get("title")
        if p.get("id") in ids:
            err(f"panel id {p.get('id')} repeats")
        ids.add(p.get("id"))
        g = p.get("gridPos")
        if not g:
            err(f"panel {title}: no gridPos")
        else:
            overlap = next(((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
                            if (x, y) in cells), None)
            if overlap:
                err(f"panel {title} overlaps another at {overlap[0]},{overlap[1]}")
            cells.update((x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"]))
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != ds_ref:
            err(f"panel {title}: datasource must be {ds_ref}")
        targets = p.get("targets") or []
        if not targets:
            err(f"panel {title}: no queries")
        for t in targets:
            if t.get("datasource") and t["datasource"].get("uid") != ds_ref:
                err(f"panel {title} {t.get('refId')}: datasource must be {ds_ref}")
            if not t.get("expr"):
                err(f"panel {title} {t.get('refId')}: empty expression")
            else:
                if re.search(r"\$\{?job\b", t["expr"]):
                    uses_job = True
                queries.append((f"panel {title} {t.get('refId')}: PromQL does not parse", t["expr"]))
    if uses_job and not any(v.get("name") == "job" for v in variables):
        err("uses $job but defines no job variable")
    for v in variables:
        if v.get("type") != "query":
            continue
        q = v["query"].get("query") if isinstance(v.get("query"), dict) else v.get("query")
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q or "")
        label = f"variable {v.get('name')}: query {q} is not label_values(<selector>, label)"
        if not m:
            err(label)
        else:
            queries.append((label, m.group(1)))
    for label, why in promql_errors(queries).items():
        err(f"{label}: {why}")
    return errors


def main():
    files = sorted((root / "deploy/grafana").glob("*.json"))
    failed = 0
    uids = set()
    first = None
    for f in files:
        try:
            dashboard = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            print(f"{f.name}: not JSON: {e}", file=sys.stderr)
            failed += 1
            continue
        if dashboard.get("uid") in uids:
            print(f"{f.name}: uid {dashboard.get('uid')} repeats", file=sys.stderr)
            failed += 1
        uids.add(dashboard.get("uid"))
        errors = check(dashboard, f.name)
        for e in errors:
            print(e, file=sys.stderr)
        failed += len(errors)
        panels = dashboard.get("panels") or []
        n = sum(len(p.get("targets") or []) for p in panels)
        print(f"{f.name}: {len(panels)} panels, {n} queries (promtool check rules): {'INVALID' if errors else 'valid'}")
        if first is None:
            first = dashboard
    if len(files) < 2:
        print("expected a cluster and a job dashboard", file=sys.stderr)
        failed += 1

    if first:
        def queried(d):
            return next(p for p in d["panels"] if p.get("targets"))

        breaks = [
            ("unbalanced parentheses",
             lambda d: queried(d)["targets"][0].update(expr="sum(rate(tunefleet_restarts_total[5m])"),
             "PromQL does not parse: could not parse expression"),
            ("a range where an instant vector belongs",
             lambda d: queried(d)["targets"][0].update(expr="sum(tunefleet_restarts_total[$__rate_interval])"),
             "PromQL does not parse"),
            ("a panel without the datasource variable",
             lambda d: queried(d).update(datasource={"type": "prometheus", "uid": "default"}),
             "datasource must be ${datasource}"),
            ("overlapping panels", lambda d: d["panels"][2].update(gridPos=dict(d["panels"][1]["gridPos"])),
             "overlaps another"),
        ]
        failed += self_test(breaks, lambda: copy.deepcopy(first), check)
    print(f"{failed} problems" if failed else "all dashboards valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
