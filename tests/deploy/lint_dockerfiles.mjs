// Lints deploy/docker/*.Dockerfile offline with dockerfile-utils (the checks
// of the Dockerfile language server: instructions, their arguments, flags,
// stage names) and checks that every RUN step runs one script of the
// repository (optionally after VAR=value assignments), which must exist and
// be executable: the test suite runs those scripts, since the images cannot
// be built here. A deliberately broken Dockerfile must be reported.
//   node lint_dockerfiles.mjs REPO_ROOT
import { accessSync, constants, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";

const root = process.argv[2];
if (!root) {
  console.error("usage: node lint_dockerfiles.mjs REPO_ROOT");
  process.exit(2);
}

function lint(text, name) {
  const errors = [];
  for (const d of validate(text)) {
    errors.push(`${name}:${d.range.start.line + 1}: ${d.severity === 1 ? "error" : "warning"}: ${d.message}`);
  }
  const lines = text.replace(/\\\n/g, " ").split("\n");
  lines.forEach((line, i) => {
    const m = /^\s*RUN\s+(.*)$/i.exec(line);
    if (!m) return;
    const words = m[1].trim().split(/\s+/);
    while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
    const script = words[0] ?? "";
    if (!/^(scripts|deploy\/docker)\/[\w.-]+\.sh$/.test(script)) {
      errors.push(`${name}: RUN must run a script of the repository (scripts/ or deploy/docker/), not: ${m[1].slice(0, 60)}`);
      return;
    }
    try {
      accessSync(join(root, script), constants.X_OK);
    } catch {
      errors.push(`${name}: RUN ${script}: no such executable script`);
    }
  });
  if (!/^FROM\s/m.test(text)) errors.push(`${name}: no FROM`);
  return errors;
}

const dir = join(root, "deploy/docker");
const files = readdirSync(dir).filter((f) => f.endsWith(".Dockerfile"));
let failed = 0;
for (const f of files) {
  const errors = lint(readFileSync(join(dir, f), "utf8"), f);
  for (const e of errors) console.error(e);
  failed += errors.length;
  console.log(`${f}: ${errors.length ? "INVALID" : "clean"}`);
}
if (files.length < 2) {
  console.error("expected coordinator.Dockerfile and worker.Dockerfile");
  failed++;
}
const broken = {
  "an unknown instruction": "FROM debian:bookworm\nCOPYY . /src\n",
  "COPY with one argument": "FROM debian:bookworm\nCOPY /src\n",
  "an inline RUN command": "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n",
  "a RUN of a missing script": "FROM debian:bookworm\nRUN deploy/docker/no_such_step.sh\n",
};
for (const [what, text] of Object.entries(broken)) {
  const errors = lint(text, "self-test");
  if (errors.length === 0) {
    console.error(`self-test: ${what} was NOT reported`);
    failed++;
  } else console.log(`self-test: ${what} -> ${errors[0]}`);
}
console.log(failed ? `${failed} problems` : "all Dockerfiles clean");
process.exit(failed ? 1 : 0);
