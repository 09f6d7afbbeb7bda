// The verifier page's own reading and judging code (verifier/src), run by Node
// without a browser: a bundle folder or .zip on disk in, the report the page
// would show out (window.custodyResult, less the page's timing). Hashing runs
// in-process through worker.js's `answer`, the function each Worker runs.
import { openAsBlob } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { evaluate } from "../src/evaluate.js";
import { NotABundle, scanFolder, scanZip } from "../src/scan.js";
import { parsePublicKeyFile } from "../src/util.js";
import { answer, answerRun } from "../src/worker.js";

/** The page's HashPool, in-process: the same jobs, the same answers. */
class InlinePool {
  constructor(onBytes) {
    this.onBytes = onBytes;
  }

  async hash(job) {
    const result = job.members !== undefined ? await answerRun(job) : await answer(job);
    if (result.size !== undefined) this.onBytes(result.size);
    return result;
  }

  close() {}
}

const quiet = { total: () => {}, add: () => {} };
const options = (location) => ({
  location,
  workers: 1,
  onBytes: quiet,
  onProgress: () => {},
  newPool: (_workers, onBytes) => new InlinePool(onBytes),
});

/** Every regular file below `root`, as a directory picker gives them. */
async function folderEntries(root, prefix = "") {
  const out = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await folderEntries(root, rel)));
    else if (entry.isFile()) out.push({ path: rel, file: await openAsBlob(join(root, rel)) });
  }
  return out;
}

/** The page's trust policy from public key files and typed fingerprints
 * (main.js readKeyFile and readFingerprint). */
export async function pagePolicy({ keys = [], fingerprints = [] }) {
  const infos = [];
  for (const path of keys) {
    const info = parsePublicKeyFile(new Uint8Array(await readFile(path)));
    if (info === null) throw new Error(`${path}: not an Ed25519 public key file`);
    infos.push(info);
  }
  return { keys: infos, fingerprints: new Set(fingerprints), label: null };
}

/** What the page reports for the bundle at `path` (a folder, or a .zip file). */
export async function pageVerify(path, policy, { zip = path.toLowerCase().endsWith(".zip") } = {}) {
  const location = basename(path);
  let scan;
  try {
    scan = zip ? await scanZip(await openAsBlob(path), options(location)) : await scanFolder(await folderEntries(path), options(location));
  } catch (e) {
    // main.js run(): a refusal is the bundle's own message, anything else "could not be read".
    const message = e instanceof NotABundle ? e.message : `could not be read (${e.message || e})`;
    return { error: { kind: "input", path: location, message } };
  }
  return { ...evaluate(scan, policy), verified_with: "custody verifier page" };
}
