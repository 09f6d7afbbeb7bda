// The shared test vectors (tests/vectors/, docs/adr/0023-shared-test-vectors.md)
// judged by the verifier page's own code: every case whose expected.json lists
// "page" among its verifiers must get the verdict, the problems (kind and path),
// the leftovers set aside, the hand-over state and the signer's state it states,
// the same as `custody verify --json` (tests/test_vectors.py runs that side).
//   node --test verifier/test/                (from the repository's top)
//   CUSTODY_VECTORS=DIR node --test verifier/test/   (another set, e.g. a rebuild)
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { pagePolicy, pageVerify } from "./page.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(process.env.CUSTODY_VECTORS ?? join(here, "..", "..", "tests", "vectors"));
const FINGERPRINT = /^[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$/;

const cases = readdirSync(root, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(root, e.name, "expected.json")))
  .map((e) => e.name)
  .sort();

const bundleOf = (dir) => ["bundle", "bundle.zip"].map((n) => join(dir, n)).find((p) => existsSync(p));

/** tests/vectors/make.py `pairs`: unique (kind, path), sorted by kind then path. */
function pairs(problems) {
  const seen = new Map();
  for (const p of problems) seen.set(JSON.stringify([p.kind, p.path]), [p.kind, p.path]);
  const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  return [...seen.values()].sort((a, b) => cmp(a[0], b[0]) || cmp(a[1] ?? "", b[1] ?? ""));
}

/** make.py `stable`, less the exit code (the page has none). */
function stable(report) {
  if (report.error !== undefined) return { error: report.error.message };
  return {
    verified: report.verified,
    problems: pairs(report.problems),
    os_leftovers: report.os_leftovers.map((p) => p.path).sort(),
    open_handover: report.open_handover !== null,
    signer: { trusted: report.signer.trusted, signature_valid: report.signer.signature_valid },
  };
}

test("there are vectors to judge", () => {
  assert.ok(cases.length > 0, `no case in ${root}`);
});

for (const name of cases) {
  const dir = join(root, name);
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
  const skip = expected.verifiers.includes("page") ? false : `custody only: ${expected.custody_only}`;
  test(name, { skip }, async () => {
    const policy = JSON.parse(readFileSync(join(dir, "policy.json"), "utf8"));
    const bundle = bundleOf(dir);
    assert.ok(bundle, `${name}: no bundle or bundle.zip`);
    const report = await pageVerify(bundle, await pagePolicy({
      keys: policy.keys.map((k) => join(dir, k)),
      fingerprints: policy.fingerprints,
    }));
    const { exit_code: _code, description: _d, verifiers: _v, custody_only: _c, page_error: pageError, ...want } = expected;
    // The page reads no tar: where its refusal says so, expected.json gives its words.
    if (pageError !== undefined) want.error = pageError;
    assert.deepEqual(stable(report), want);
    if (report.error === undefined && report.statement_sha256 !== null) {
      // One fingerprint format everywhere: custody's models.short_digest.
      assert.match(report.bundle_fingerprint, FINGERPRINT);
      const groups = report.statement_sha256.slice(0, 16).toUpperCase().match(/.{4}/g).join("-");
      assert.equal(report.bundle_fingerprint, groups);
    }
  });
}
