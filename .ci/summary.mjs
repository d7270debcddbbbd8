// Prints the lines CI reads last: each failed test with the first lines of its message, then
// "N passed, N failed" over every vitest JSON report given. A red run whose log is cut to its tail
// still says which test failed and why.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, "utf8"));
    passed += r.numPassedTests ?? 0;
    failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    for (const suite of r.testResults ?? []) {
      const where = relative(process.cwd(), suite.name ?? "");
      const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === "failed");
      for (const t of failedTests)
        failures.push({ where, title: t.fullName ?? t.title, messages: t.failureMessages ?? [] });
      if (!failedTests.length && suite.status === "failed")
        failures.push({ where, title: "(the file failed to run)", messages: [suite.message ?? ""] });
    }
  } catch (err) {
    console.error(`ci: cannot read ${file}: ${err.message}`);
    failed += 1;
  }
}
for (const f of failures) {
  console.log(`FAILED ${f.where} > ${f.title}`);
  const lines = f.messages
    .join("\n")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 12);
  for (const line of lines) console.log(`    ${line}`);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
