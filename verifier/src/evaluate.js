// The verdict: custody's bundle/verify.py `evaluate` and its check_*.py,
// ported line for line so that the page names the same problems (kinds and
// paths) as `custody verify --json`. Pure: a scan and a trust policy in,
// a report out. Nothing here reads a file or the network.
import * as L from "./layout.js";
import { verifyChain } from "./chain.js";
import { checkCommitments } from "./commitments.js";
import { checkProof } from "./ledger.js";
import { setAside } from "./leftovers.js";
import { FileMap, ManifestMap, payloadTotals } from "./paths.js";
import { checkTimestamps } from "./timestamps.js";
import {
  compareUtf8,
  decodeStrict,
  ed25519Valid,
  equalBytes,
  isCanonical,
  isCount,
  isPlainObject,
  parseJson,
  publicKeyFileBytes,
  readPublicKeyFile,
  sha256Hex,
  sortedPy,
} from "./util.js";

// The first 16 hex digits of a digest in groups of four, upper case: the bundle
// fingerprint exactly as custody prints it (models.short_digest), to read on a form.
const shortDigest = (hex) => hex.slice(0, 16).toUpperCase().match(/.{4}/g).join("-");

const problem = (kind, path, detail) => ({ kind, path, detail });

/**
 * scan: {location, files: Map(path -> {size, sha256}), tagBytes: Map(path -> Uint8Array),
 *        problems: [], oddPaths: Set}
 * policy: {keys: [{name, fingerprint, raw}], fingerprints: Set(hex)}
 */
export function evaluate(given, policy) {
  const parsed = payloadManifest(given);
  const [scan, osLeftovers] = setAside(given, listedPaths(given, parsed.entries));
  const problems = [...scan.problems];
  const notes = [];
  checkBagitTxt(scan, problems);
  const manifest = parsed.entries;
  for (const err of parsed.errors) problems.push(problem("bad_manifest", L.MANIFEST, err.detail));
  checkPayload(scan, manifest, problems);
  const bagInfoBytes = scan.tagBytes.get(L.BAG_INFO);
  const bagInfo = bagInfoBytes !== undefined ? L.lastWins(L.parseBagInfo(bagInfoBytes)) : new Map();
  if (bagInfoBytes !== undefined) checkOxum(scan, bagInfo, problems);
  checkTagManifest(scan, problems);
  const statement = checkStatement(scan, manifest.size, bagInfo, problems);
  checkNames(scan, manifest, statement, problems);
  const committedNote = checkCommitments(scan, statement, manifest, problems);
  checkSimilar(scan, statement, problems);
  const stmtBytes = scan.tagBytes.get(L.STATEMENT);
  const { signer, signerKey } = checkSignature(scan, statement, stmtBytes, policy, problems);
  let chain = [];
  let openHandover = null;
  let ledger = null;
  let timestamps = [];
  if (statement !== null && stmtBytes !== undefined) {
    const stmtSha = sha256Hex(stmtBytes);
    ledger = checkLedger(scan, statement, stmtSha, signerKey, problems, notes);
    const state = verifyChain(scan.tagBytes, statement, stmtSha);
    chain = state.timeline;
    openHandover = state.openHandover;
    problems.push(...state.problems);
  }
  timestamps = checkTimestamps(scan, problems, notes);
  if (scan.files.has(L.TEAM_PROOF)) {
    notes.push(
      "not checked here: the team log's inclusion proof (custody/team-proof.json) and the witnesses' cosignatures on it; check with custody verify --team-key TEAM.pub",
    );
  }
  const { count: files, bytes } = payloadTotals(scan.files, L.isTagPath);
  const unique = dedupe(problems);
  const report = {
    bundle: scan.location,
    verified: unique.length === 0,
    bundle_id: statement?.bundle_id ?? null,
    statement_sha256: stmtBytes !== undefined ? sha256Hex(stmtBytes) : null,
    bundle_fingerprint: stmtBytes !== undefined ? shortDigest(sha256Hex(stmtBytes)) : null,
    case: statement?.case ?? null,
    exhibit: statement?.exhibit ?? null,
    created: statement?.created ?? null,
    officer: statement?.officer ?? null,
    note: committedNote ?? statement?.note ?? null,
    made_with: statement?.tool ?? null,
    file_count: statement?.file_count ?? null,
    total_bytes: statement?.total_bytes ?? null,
    signer,
    files_checked: files,
    bytes_checked: bytes,
    custody_chain: chain,
    open_handover: openHandover,
    ledger,
    timestamps,
    warnings: notes,
    os_leftovers: osLeftovers,
    problems: unique,
  };
  // Every file the manifest lists, made when it is read (JSON.stringify reads it):
  // a million rows are not held beside the verdict.
  let table = null;
  Object.defineProperty(report, "files", {
    enumerable: true,
    configurable: true,
    get: () => (table ??= fileTable(scan, manifest, unique)),
    set: (value) => {
      table = value;
    },
  });
  return report;
}

/** The payload manifest, parsed once per scan: joined into the scan's path table
 * when it has one (paths.js), so that no path or digest is held twice. */
const joined = new WeakMap();
function payloadManifest(scan) {
  const bytes = scan.tagBytes.get(L.MANIFEST);
  if (bytes === undefined) return { entries: new Map(), errors: [] };
  if (!(scan.files instanceof FileMap)) return L.parseManifest(bytes);
  const table = scan.files.table;
  const cached = joined.get(table);
  if (cached?.bytes === bytes) return cached.parsed;
  if (cached !== undefined) ManifestMap.clear(table);
  const parsed = L.parseManifest(bytes, new ManifestMap(table));
  joined.set(table, { bytes, parsed });
  return parsed;
}

/** Every path either manifest lists (verify.set_aside_leftovers). */
function listedPaths(scan, manifest) {
  const data = scan.tagBytes.get(L.TAG_MANIFEST);
  const tagListed = data !== undefined ? L.parseManifest(data).entries : new Map();
  return { has: (path) => manifest.has(path) || tagListed.has(path) };
}

function dedupe(problems) {
  const seen = new Set();
  const out = [];
  for (const p of problems) {
    const key = JSON.stringify([p.kind, p.path, p.detail]);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

function fileTable(scan, manifest, problems) {
  const state = new Map();
  for (const p of problems) {
    if (p.path && ["changed", "missing", "not_regular_file"].includes(p.kind)) state.set(p.path, p.kind);
  }
  return sortedPy(manifest.keys()).map((path) => {
    const found = scan.files.get(path);
    return {
      path,
      sha256: manifest.get(path),
      size: found ? found.size : null,
      state: state.get(path) ?? (found ? "intact" : "missing"),
    };
  });
}

export function checkBagitTxt(scan, problems) {
  const data = scan.tagBytes.get(L.BAGIT_TXT);
  if (data === undefined) {
    problems.push(problem("missing", L.BAGIT_TXT, "required tag file is missing"));
    return;
  }
  const difference = L.describeDifference(data, L.BAGIT_TXT_BYTES);
  if (difference !== null) problems.push(problem("bad_tag_format", L.BAGIT_TXT, difference));
  const fields = L.lastWins(L.parseBagInfo(data));
  if (fields.get("BagIt-Version") !== "1.0" || fields.get("Tag-File-Character-Encoding") !== "UTF-8") {
    problems.push(problem("bad_bagit", L.BAGIT_TXT, "not 'BagIt-Version: 1.0' with UTF-8 encoding"));
  }
}

/** The manifest's entries against the files: [path, found or undefined, digest]
 * (a joined manifest makes no object and no hex for a file found intact). */
function* listedAgainst(scan, manifest) {
  if (manifest instanceof ManifestMap && scan.files instanceof FileMap && scan.files.table === manifest.table) {
    for (const [path, state, digest] of manifest.against(scan.files)) {
      if (state === "same") yield [path, INTACT, null];
      else yield [path, state === "absent" ? undefined : scan.files.get(path), digest];
    }
  } else for (const [path, digest] of manifest) yield [path, scan.files.get(path), digest];
}
const INTACT = {};

export function checkPayload(scan, manifest, problems) {
  const missing = new Map();
  for (const [path, found, digest] of listedAgainst(scan, manifest)) {
    if (!path.startsWith(L.PAYLOAD_DIR + "/")) {
      problems.push(problem("bad_manifest", path, "payload manifest lists a path outside data/"));
      continue;
    }
    if (found === undefined) {
      if (!scan.oddPaths.has(path)) missing.set(path, digest);
      continue;
    }
    if (found !== INTACT && found.sha256 !== digest) {
      problems.push(problem("changed", path, `SHA-256 is ${found.sha256}, manifest says ${digest}`));
    }
  }
  const byDigest = new Map();
  for (const [path, digest] of missing) {
    if (!byDigest.has(digest)) byDigest.set(digest, []);
    byDigest.get(digest).push(path);
  }
  const unlisted = [];
  for (const p of scan.files.keys()) if (!L.isTagPath(p) && !manifest.has(p)) unlisted.push(p);
  unlisted.sort(compareUtf8);
  for (const path of unlisted) {
    const twins = byDigest.get(scan.files.get(path).sha256 ?? "") ?? [];
    if (twins.length) {
      const original = twins.shift();
      missing.delete(original);
      problems.push(problem("renamed", path, `not in the manifest; same content as missing ${original}`));
    } else {
      problems.push(problem("extra", path, "payload file not in the manifest"));
    }
  }
  for (const path of missing.keys()) {
    problems.push(problem("missing", path, "listed in the manifest but not in the bundle"));
  }
}

export function checkOxum(scan, bagInfo, problems) {
  const oxum = bagInfo.get("Payload-Oxum");
  if (oxum === undefined) {
    problems.push(problem("bad_bag_info", L.BAG_INFO, "no Payload-Oxum"));
    return;
  }
  const { count, bytes: size } = payloadTotals(scan.files, L.isTagPath);
  const actual = `${size}.${count}`;
  if (oxum !== actual) {
    problems.push(problem("oxum_mismatch", L.BAG_INFO, `Payload-Oxum is ${oxum}, payload is ${actual}`));
  }
}

export function checkTagManifest(scan, problems) {
  const data = scan.tagBytes.get(L.TAG_MANIFEST);
  let listed = new Map();
  if (data === undefined) {
    problems.push(problem("missing", L.TAG_MANIFEST, "required tag file is missing"));
  } else {
    let parsed = L.parseManifest(data);
    const respelled = L.respelledText(data);
    if (!equalBytes(respelled, data)) {
      // A BOM, CR LF or stray blanks: judged by what it says, the spelling named once.
      const again = L.parseManifest(respelled);
      if (!again.errors.length) parsed = again;
    }
    listed = parsed.entries;
    for (const err of parsed.errors) problems.push(problem("bad_manifest", L.TAG_MANIFEST, err.detail));
    if (!parsed.errors.length) {
      const difference = L.describeDifference(data, L.formatManifest(listed));
      if (difference !== null) problems.push(problem("bad_tag_format", L.TAG_MANIFEST, difference));
    }
  }
  for (const [path, digest] of listed) {
    const found = scan.files.get(path);
    if (!L.isTagPath(path)) {
      problems.push(problem("bad_manifest", path, "tag manifest lists a payload file"));
    } else if (found === undefined) {
      if (!scan.oddPaths.has(path)) problems.push(problem("missing", path, "listed in the tag manifest but missing"));
    } else if (found.sha256 !== digest) {
      problems.push(problem("changed", path, `SHA-256 is ${found.sha256}, tag manifest says ${digest}`));
    }
  }
  const tagPaths = [];
  for (const path of scan.files.keys()) if (L.isTagPath(path)) tagPaths.push(path);
  for (const path of sortedPy(tagPaths)) {
    if (path !== L.TAG_MANIFEST && !listed.has(path)) {
      if (data === undefined && L.REQUIRED_TAG_FILES.includes(path)) continue;
      // Hand-over records authenticate themselves (docs/ledger.md).
      if (L.isChainPath(path)) continue;
      // So do timestamp tokens (timestamps.js checks them; issue 12).
      if (path.startsWith(`${L.TIMESTAMPS_DIR}/`)) continue;
      // And the team proof (docs/team.md): stapled after the rest, listed last.
      if (path === L.TEAM_PROOF) continue;
      problems.push(problem("extra", path, "tag file not in the tag manifest"));
    }
  }
  for (const required of L.REQUIRED_TAG_FILES) {
    if (!scan.files.has(required) && !scan.oddPaths.has(required) && !listed.has(required)) {
      problems.push(problem("missing", required, "required tag file is missing"));
    }
  }
}

const STR_FIELDS = [
  "bundle_id", "case", "officer", "key_fingerprint", "created", "tool",
  "manifest_sha256", "bag_info_sha256", "metadata_sha256", "format",
];

/** bundle/statement.py parse_statement: the fields, or an error string. */
export function parseStatement(bytes) {
  const text = decodeStrict(bytes);
  if (text === null) return { error: "not UTF-8" };
  const obj = parseJson(text);
  if (obj === undefined) return { error: "not JSON" };
  if (!isPlainObject(obj)) return { error: "not a JSON object" };
  if (obj.format !== "custody/statement/v1") return { error: `unknown format ${JSON.stringify(obj.format ?? null)}` };
  for (const name of STR_FIELDS) {
    if (typeof obj[name] !== "string") return { error: `field '${name}' missing or not a string` };
  }
  for (const name of ["file_count", "total_bytes"]) {
    if (!isCount(obj[name]) || obj[name] < 0) return { error: `field '${name}' missing or not a count` };
  }
  for (const name of ["exhibit", "note"]) {
    if (!(name in obj) || !(obj[name] === null || typeof obj[name] === "string")) {
      return { error: `field '${name}' missing or not a string or null` };
    }
  }
  if ("names_sha256" in obj && typeof obj.names_sha256 !== "string") {
    return { error: "field 'names_sha256' is not a string" };
  }
  if ("similar_sha256" in obj && typeof obj.similar_sha256 !== "string") {
    return { error: "field 'similar_sha256' is not a string" };
  }
  // Duplicate keys, whitespace, escapes or key order other than RFC 8785's all
  // make the canonical form differ from the stored bytes.
  if (!isCanonical(obj, bytes)) return { error: "not in canonical (RFC 8785) form" };
  return { statement: obj };
}

function checkStatement(scan, listed, bagInfo, problems) {
  const bytes = scan.tagBytes.get(L.STATEMENT);
  if (bytes === undefined) return null;
  const { statement, error } = parseStatement(bytes);
  if (error !== undefined) {
    problems.push(problem("bad_statement", L.STATEMENT, error));
    return null;
  }
  for (const [path, field] of [
    [L.MANIFEST, "manifest_sha256"],
    [L.BAG_INFO, "bag_info_sha256"],
    [L.METADATA, "metadata_sha256"],
  ]) {
    const found = scan.files.get(path);
    if (found !== undefined && found.sha256 !== statement[field]) {
      problems.push(problem("statement_mismatch", path, "differs from the version the statement signed"));
    }
  }
  if (statement.file_count !== listed) {
    problems.push(
      problem("statement_mismatch", L.MANIFEST, `lists ${listed} files, the statement signed ${statement.file_count}`),
    );
  }
  const oxum = bagInfo.get("Payload-Oxum") ?? "";
  if (oxum && oxum.split(".")[0] !== String(statement.total_bytes)) {
    problems.push(
      problem(
        "statement_mismatch",
        L.BAG_INFO,
        `Payload-Oxum ${oxum} disagrees with the signed total of ${statement.total_bytes} bytes`,
      ),
    );
  }
  return statement;
}

/** bundle/check_names.py: custody/names.json against the statement and the manifest. */
function checkNames(scan, manifest, statement, problems) {
  const found = scan.files.get(L.NAMES);
  const signed = statement !== null ? statement.names_sha256 : undefined;
  if (found === undefined) {
    if (signed !== undefined && !scan.oddPaths.has(L.NAMES)) {
      problems.push(problem("missing", L.NAMES, "signed by the statement but missing"));
    }
    return;
  }
  if (statement === null) return;
  if (signed === undefined) {
    problems.push(problem("bad_names", L.NAMES, "the statement signs no names file"));
    return;
  }
  if (found.sha256 !== signed) {
    problems.push(problem("statement_mismatch", L.NAMES, "differs from the version the statement signed"));
    return;
  }
  const data = scan.tagBytes.get(L.NAMES);
  if (data === undefined) {
    problems.push(problem("bad_names", L.NAMES, "cannot be read"));
    return;
  }
  const parsed = L.parseNamesFile(data);
  if (parsed.error !== undefined) {
    problems.push(problem("bad_names", L.NAMES, parsed.error));
    return;
  }
  for (const p of L.checkNamesMap(parsed.originals, manifest.keys())) {
    problems.push(problem("bad_names", L.NAMES, `${p.path}: ${p.detail}`));
  }
}

/** bundle/check_similar.py: custody/similar.json (analysis results) against the statement. */
function checkSimilar(scan, statement, problems) {
  const path = "custody/similar.json";
  const found = scan.files.get(path);
  const signed = statement !== null ? statement.similar_sha256 : undefined;
  if (found === undefined) {
    if (signed !== undefined && !scan.oddPaths.has(path)) {
      problems.push(problem("missing", path, "signed by the statement but missing"));
    }
    return;
  }
  if (statement === null) return;
  if (signed === undefined) {
    problems.push(problem("extra", path, "analysis results the statement does not sign"));
  } else if (found.sha256 !== null && found.sha256 !== undefined && found.sha256 !== signed) {
    problems.push(problem("statement_mismatch", path, "differs from the version the statement signed"));
  }
}

export function checkSignature(scan, statement, stmtBytes, policy, problems) {
  const claimed = statement ? statement.key_fingerprint : null;
  const name = statement ? statement.officer : null;
  const sig = scan.tagBytes.get(L.SIGNATURE);
  let bundled = null;
  const keyBytes = scan.tagBytes.get(L.SIGNER_KEY);
  if (keyBytes !== undefined) {
    const info = readPublicKeyFile(keyBytes);
    if (info.error !== undefined) problems.push(problem("bad_signer_key", L.SIGNER_KEY, info.error));
    else bundled = info;
    if (bundled !== null && claimed !== null) checkBundledKey(keyBytes, bundled, claimed, name, problems);
  }
  const signerInfo = (trusted, valid, trustedAs = null) => ({
    name,
    fingerprint: claimed,
    trusted,
    trusted_as: trustedAs,
    signature_valid: valid,
  });
  if (stmtBytes === undefined || statement === null || sig === undefined) {
    return { signer: signerInfo(false, false), signerKey: null };
  }
  let trusted = policy.keys.find((k) => k.fingerprint === claimed) ?? null;
  if (trusted === null && policy.fingerprints.has(claimed) && bundled !== null && bundled.fingerprint === claimed) {
    trusted = { name: `fingerprint ${claimed.slice(0, 16)}`, fingerprint: claimed, raw: bundled.raw };
  }
  if (trusted !== null) {
    const valid = ed25519Valid(trusted.raw, sig, stmtBytes);
    if (!valid) {
      problems.push(problem("bad_signature", L.SIGNATURE, `signature does not verify with trusted key ${trusted.name}`));
    }
    return { signer: signerInfo(true, valid, trusted.name), signerKey: valid ? trusted.raw : null };
  }
  let valid = false;
  if (bundled !== null && bundled.fingerprint === claimed) valid = ed25519Valid(bundled.raw, sig, stmtBytes);
  if (!valid) {
    problems.push(problem("bad_signature", L.SIGNATURE, "signature does not verify with the key the statement names"));
  }
  problems.push(
    problem(
      "untrusted_signer",
      L.STATEMENT,
      `signed by key ${claimed} (${name}), which is not the key you chose on this page`,
    ),
  );
  return { signer: signerInfo(false, valid), signerKey: null };
}

/** custody/signer.pub must be exactly the key file custody writes for the key
 * the statement names, whether or not the verifier needed it. */
function checkBundledKey(data, key, claimed, name, problems) {
  if (key.fingerprint !== claimed) {
    problems.push(
      problem("signer_key_mismatch", L.SIGNER_KEY, `holds key ${key.fingerprint}, not the key ${claimed} the statement names`),
    );
    return;
  }
  const difference = L.describeDifference(data, publicKeyFileBytes(String(name), key.raw));
  if (difference !== null) {
    problems.push(problem("bad_tag_format", L.SIGNER_KEY, `not the key file custody writes for this key: ${difference}`));
  }
}

function checkLedger(scan, statement, stmtSha, signerKey, problems, notes) {
  const data = scan.tagBytes.get(L.PROOF_PATH);
  if (data === undefined) {
    notes.push("the bundle carries no ledger proof (made without a ledger)");
    return null;
  }
  const check = checkProof(data, { statementSha256: stmtSha, bundleId: String(statement.bundle_id), signerKey });
  problems.push(...check.problems);
  return {
    origin: check.origin ?? null,
    leaf_index: check.leafIndex ?? null,
    tree_size: check.treeSize ?? null,
    checkpoint: check.checkpoint ?? null,
    ...check.details,
    proof_valid: check.problems.length === 0,
    local_ledger: null,
  };
}
