"""yamllint over deploy/**/*.yaml (and .yml) with tests/deploy/yamllint.yaml
(the "relaxed" preset made stricter where it matters): duplicate keys,
YAML 1.1 truthy values, indentation, trailing spaces. Every problem fails,
warnings included. Then a broken file must be reported.

  .venv/bin/python lint_yaml.py REPO_ROOT
"""
import sys
import tempfile
from pathlib import Path

from deploy_tools import missing, repo_root, self_test

try:
    from yamllint import linter
    from yamllint.config import YamlLintConfig
except ImportError as e:
    missing(f"the Python module {e.name} (yamllint, in the project virtualenv .venv, from requirements.txt)")

HERE = Path(__file__).resolve().parent
root = repo_root("lint_yaml.py")
config = YamlLintConfig(file=str(HERE / "yamllint.yaml"))


def lint(text, name):
    # p.message ends with the rule's name, e.g. "trailing spaces (trailing-spaces)".
    return [f"{name}:{p.line}:{p.column}: {p.level}: {p.message}" for p in linter.run(text, config, name)]


def main():
    files = sorted(p for p in (root / "deploy").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    failed = 0
    for f in files:
        errors = lint(f.read_text(), str(f.relative_to(root)))
        for e in errors:
            print(e, file=sys.stderr)
        failed += len(errors)
    print(f"{len(files)} YAML files under deploy/: {failed} problems")
    if not files:
        print("no YAML files under deploy/", file=sys.stderr)
        failed += 1

    def broken(text):
        return lambda doc: doc.update(text=text)

    breaks = [
        ("a duplicate key", broken("metadata:\n  name: a\n  name: b\n"), "duplication of key"),
        ("an unquoted yes", broken("labels:\n  gpu: yes\n"), "truthy value"),
        ("a tab-broken mapping", broken("a:\n\tb: 1\n"), "syntax error"),
        ("trailing spaces", broken("a: 1  \n"), "trailing spaces"),
    ]
    failed += self_test(breaks, lambda: {"text": ""}, lambda doc, what: lint(doc["text"], what))
    print(f"{failed} problems" if failed else "all YAML clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
