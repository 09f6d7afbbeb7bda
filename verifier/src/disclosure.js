// custody verify PACKAGE in the page: disclosure/verify.py evaluate_package and
// disclosure/checks.py, ported so that the page names the same problems (kinds
// and paths) as `custody verify PACKAGE --json`. Pure: a scan and a policy in.
import * as L from "./layout.js";
import { leafSpelling, parseLeaf } from "./commitments.js";
import {
  checkBagitTxt,
  checkOxum,
  checkPayload,
  checkSignature,
  checkTagManifest,
  parseStatement,
} from "./evaluate.js";
import { checkpointSignedBy, leafHash, parseCheckpoint, parseEntry, verifyInclusion } from "./ledger.js";
import { checkToken } from "./timestamps.js";
import {
  b64decode,
  decodeStrict,
  ed25519Valid,
  isCanonical,
  isCount,
  isPlainObject,
  parseJson,
  readPublicKeyFile,
  sha256Hex,
} from "./util.js";

const DIR = "custody/disclosure";
export const RECORD = `${DIR}/record.json`;
const LEAVES = `${DIR}/leaves.jsonl`;
const RECORD_SIG = `${DIR}/record.sig`;
const DISCLOSER_KEY = `${DIR}/discloser.pub`;
const LEDGER_PROOF = `${DIR}/ledger-proof.json`;
const TIMESTAMPS_DIR = `${DIR}/timestamps`;
const ORIGINAL_DIR = "custody/original";
const TREATMENTS = ["intact", "stripped", "redacted", "derived", "whole", "members"];
const problem = (kind, path, detail) => ({ kind, path, detail });
const enc = new TextEncoder();

export const isPackage = (scan) => scan.files.has(RECORD);

/** The paths whose bytes the part checks read (stripped and redacted copies). */
export function pathsToRead(scan) {
  const data = scan.tagBytes.get(RECORD);
  const text = data === undefined ? null : decodeStrict(data);
  const rec = text === null ? undefined : parseJson(text);
  const out = new Set();
  if (isPlainObject(rec) && Array.isArray(rec.items)) {
    for (const i of rec.items) {
      if (isPlainObject(i) && (i.treatment === "stripped" || i.treatment === "redacted")) out.add(String(i.path));
    }
  }
  return out;
}

function parseRecord(bytes) {
  const text = decodeStrict(bytes);
  const obj = text === null ? undefined : parseJson(text);
  if (obj === undefined) throw new Error("not UTF-8 JSON");
  if (!isPlainObject(obj) || obj.format !== "custody/disclosure/v1") throw new Error("not a custody disclosure record");
  for (const name of ["disclosure_id", "bundle_id", "statement_sha256", "to", "officer", "key_fingerprint", "created", "manifest_sha256"]) {
    if (typeof obj[name] !== "string") throw new Error(`field '${name}' missing or not a string`);
  }
  if (!Array.isArray(obj.items) || !Array.isArray(obj.withheld)) throw new Error("'items' and 'withheld' must be lists");
  if (typeof obj.committed !== "boolean") throw new Error("field 'committed' missing");
  if (!isCanonical(obj, bytes)) throw new Error("not in canonical (RFC 8785) form");
  return obj;
}

function parseLeaves(data) {
  const out = new Map();
  const text = decodeStrict(data);
  if (text === null) throw new Error("line 1 is not a disclosed leaf");
  if (text && !text.endsWith("\n")) throw new Error("last line has no line ending");
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, n) => {
    const number = n + 1;
    const obj = parseJson(line);
    const bad = () => new Error(`line ${number} is not a disclosed leaf`);
    if (!isPlainObject(obj) || typeof obj.leaf !== "string" || !Array.isArray(obj.proof)) throw bad();
    if (!isCount(obj.index) || out.has(obj.index)) throw new Error(`line ${number}: index missing or given twice`);
    const proof = obj.proof.map((p) => (typeof p === "string" && /^[0-9a-fA-F]*$/.test(p) && p.length % 2 === 0 ? Uint8Array.from(p.match(/../g) ?? [], (h) => parseInt(h, 16)) : null));
    if (proof.some((p) => p === null)) throw bad();
    let spelled;
    try {
      spelled = leafSpelling({ index: obj.index, leaf: obj.leaf, proof: obj.proof.map((p) => p.toLowerCase()) });
    } catch {
      throw bad();
    }
    if (spelled !== line) throw new Error(`line ${number} is not in custody's spelling`);
    out.set(obj.index, { index: obj.index, leaf: enc.encode(obj.leaf), proof });
  });
  return out;
}

function withheldFiles(rec, files) {
  const out = [];
  for (const w of rec.withheld ?? []) {
    const runs = isPlainObject(w) ? w.leaves : undefined;
    if (!Array.isArray(runs) || typeof w.basis !== "string") return { out, malformed: "a withheld entry is malformed" };
    for (const run of runs) {
      const ok = Array.isArray(run) && run.length === 2 && run.every(isCount) && run[0] >= 0 && run[0] <= run[1] && run[1] < Math.max(files, 1);
      if (!ok) return { out, malformed: `withheld run ${JSON.stringify(run)} is not a range of file leaves` };
      for (let i = run[0]; i <= run[1]; i++) out.push([i, w.basis]);
    }
  }
  return { out, malformed: null };
}

export function evaluatePackage(scan, policy) {
  const problems = [...scan.problems];
  checkBagitTxt(scan, problems);
  const manifestBytes = scan.tagBytes.get(L.MANIFEST);
  let manifest = new Map();
  if (manifestBytes !== undefined) {
    const parsed = L.parseManifest(manifestBytes);
    manifest = parsed.entries;
    for (const err of parsed.errors) problems.push(problem("bad_manifest", L.MANIFEST, err.detail));
  }
  checkPayload(scan, manifest, problems);
  const bagInfoBytes = scan.tagBytes.get(L.BAG_INFO);
  if (bagInfoBytes !== undefined) checkOxum(scan, L.lastWins(L.parseBagInfo(bagInfoBytes)), problems);
  const tagProblems = [];
  checkTagManifest(scan, tagProblems);
  problems.push(...tagProblems.filter((p) => p.path !== L.METADATA));
  const payload = new Map();
  for (const [path, f] of scan.files) if (!L.isTagPath(path)) payload.set(path, f.sha256);
  const ev = {
    statementBytes: scan.tagBytes.get(L.STATEMENT),
    recordBytes: scan.tagBytes.get(RECORD),
    recordSig: scan.tagBytes.get(RECORD_SIG),
    discloserKey: scan.tagBytes.get(DISCLOSER_KEY),
    leavesBytes: scan.tagBytes.get(LEAVES),
    manifestBytes,
    ledgerProof: scan.tagBytes.get(LEDGER_PROOF),
    payload,
    read: (path) => scan.tagBytes.get(path),
  };
  // parse_evidence
  let statement = null;
  let record = null;
  let leaves = new Map();
  const parsedLeaves = new Map();
  if (ev.statementBytes !== undefined) {
    const s = parseStatement(ev.statementBytes);
    if (s.error !== undefined) problems.push(problem("bad_statement", L.STATEMENT, s.error));
    else statement = s.statement;
  }
  if (ev.recordBytes === undefined) problems.push(problem("missing", RECORD, "the disclosure record is missing"));
  else {
    try {
      record = parseRecord(ev.recordBytes);
    } catch (e) {
      problems.push(problem("bad_disclosure_record", RECORD, e.message));
    }
  }
  if (ev.leavesBytes !== undefined) {
    try {
      leaves = parseLeaves(ev.leavesBytes);
    } catch (e) {
      problems.push(problem("bad_disclosure_leaves", LEAVES, e.message));
    }
    for (const [i, d] of leaves) {
      try {
        parsedLeaves.set(i, parseLeaf(d.leaf));
      } catch (e) {
        problems.push(problem("bad_disclosure_leaves", LEAVES, `leaf ${i}: ${e.message}`));
      }
    }
  }
  const p = { statement, record, leaves, parsedLeaves };
  const { signer } = checkSignature(scan, statement, ev.statementBytes, policy, problems);
  problems.push(...checkRecordBinding(ev, p));
  const { found, info } = checkRecordSignature(ev, p, policy);
  problems.push(...found);
  problems.push(...checkProofs(p));
  problems.push(...checkItems(ev, p));
  const original = new Map();
  for (const name of ["manifest-sha256.txt", "bag-info.txt", "metadata.json", "names.json"]) {
    original.set(name, scan.tagBytes.get(`${ORIGINAL_DIR}/${name}`));
  }
  problems.push(...checkWhole(ev, p, original));
  const ledger = checkDisclosureLedger(ev, p);
  problems.push(...ledger.problems);
  // disclosure/check_time.py with no TSA root chosen: untrusted or invalid.
  const timestamps = [];
  const numbered = [];
  for (const path of [...scan.tagBytes.keys()].filter((x) => x.startsWith(`${TIMESTAMPS_DIR}/`))) {
    const m = /^([1-9][0-9]{0,8})\.tsr$/.exec(path.slice(TIMESTAMPS_DIR.length + 1));
    if (m === null) problems.push(problem("bad_timestamp", path, "not a timestamp file name (N.tsr)"));
    else numbered.push([Number(m[1]), path]);
  }
  for (const [, path] of numbered.sort((a, b) => a[0] - b[0])) {
    const check = ev.recordSig === undefined
      ? { status: "invalid", detail: "no custody/disclosure/record.sig for it to stamp", tsa: null, gen_time: null, accuracy_seconds: null }
      : checkToken(scan.tagBytes.get(path), ev.recordSig);
    if (check.status === "invalid") problems.push(problem("bad_timestamp", path, check.detail));
    timestamps.push({ file: path, tsa: check.tsa, gen_time: check.gen_time, accuracy_seconds: check.accuracy_seconds, status: check.status, detail: check.detail });
  }
  const summary = summarise(p);
  const seen = new Set();
  const unique = problems.filter((q) => {
    const k = JSON.stringify([q.kind, q.path, q.detail]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return {
    package: scan.location,
    verified: unique.length === 0,
    kind: "disclosure",
    bundle_id: statement?.bundle_id ?? null,
    case: statement?.case ?? null,
    exhibit: statement?.exhibit ?? null,
    officer: statement?.officer ?? null,
    created: statement?.created ?? null,
    signer,
    discloser: info,
    disclosure: summary,
    summary: sentence(summary),
    ledger: ledger.info,
    timestamps,
    disclosed_no_later_than: null,
    problems: unique,
  };
}

function checkRecordBinding(ev, p) {
  const rec = p.record;
  const st = p.statement;
  if (rec === null || st === null || ev.statementBytes === undefined) return [];
  const out = [];
  const other = "the disclosure record is from another package";
  if (rec.statement_sha256 !== sha256Hex(ev.statementBytes) || rec.bundle_id !== st.bundle_id) {
    out.push(problem("disclosure_mismatch", RECORD, `${other}: it names another bundle`));
  }
  if (ev.manifestBytes !== undefined && rec.manifest_sha256 !== sha256Hex(ev.manifestBytes)) {
    out.push(problem("disclosure_mismatch", L.MANIFEST, `${other}: it lists other files`));
  }
  const leavesSha = ev.leavesBytes !== undefined ? sha256Hex(ev.leavesBytes) : null;
  if ((rec.leaves_sha256 ?? null) !== leavesSha) {
    out.push(problem("disclosure_mismatch", LEAVES, `${other}: it discloses other leaves`));
  }
  if (Boolean(rec.committed) !== isPlainObject(st.commitments)) {
    out.push(problem("disclosure_mismatch", RECORD, "the record and the statement disagree on whether the bundle has commitments"));
  }
  return out;
}

function checkRecordSignature(ev, p, policy) {
  const rec = p.record;
  const info = { name: null, fingerprint: null, trusted: false, signature_valid: false };
  if (rec === null) return { found: [], info };
  const claimed = rec.key_fingerprint;
  info.name = rec.officer;
  info.fingerprint = claimed;
  if (ev.recordSig === undefined) return { found: [problem("missing", RECORD_SIG, "the record's signature is missing")], info };
  let key = policy.keys.find((k) => k.fingerprint === claimed) ?? null;
  let bundled = null;
  if (ev.discloserKey !== undefined) {
    const k = readPublicKeyFile(ev.discloserKey);
    if (k.error !== undefined) return { found: [problem("bad_signer_key", DISCLOSER_KEY, k.error)], info };
    bundled = k;
  }
  const named = bundled !== null && bundled.fingerprint === claimed;
  if (key === null && policy.fingerprints.has(claimed) && named) {
    key = { name: `fingerprint ${claimed.slice(0, 16)}`, fingerprint: claimed, raw: bundled.raw };
  }
  if (key !== null) {
    const valid = ed25519Valid(key.raw, ev.recordSig, ev.recordBytes);
    Object.assign(info, { trusted: true, signature_valid: valid, trusted_as: key.name });
    if (!valid) return { found: [problem("bad_disclosure_signature", RECORD_SIG, `does not verify with trusted key ${key.name}`)], info };
    return { found: [], info };
  }
  const valid = named && ed25519Valid(bundled.raw, ev.recordSig, ev.recordBytes);
  info.signature_valid = valid;
  const found = [];
  if (!valid) found.push(problem("bad_disclosure_signature", RECORD_SIG, "does not verify with the key the record names"));
  found.push(problem("untrusted_discloser", RECORD, `disclosure signed by key ${claimed} (${rec.officer}), which is not the key you chose on this page`));
  return { found, info };
}

function checkProofs(p) {
  const com = p.statement?.commitments;
  if (!isPlainObject(com)) {
    return p.leaves.size ? [problem("bad_proof", LEAVES, "the bundle committed to nothing")] : [];
  }
  const root = typeof com.root === "string" && /^[0-9a-f]{64}$/.test(com.root) ? Uint8Array.from(com.root.match(/../g), (h) => parseInt(h, 16)) : null;
  if (root === null || !isCount(com.leaves)) return [problem("bad_statement", L.STATEMENT, "commitments are malformed")];
  const out = [];
  for (const i of [...p.leaves.keys()].sort((a, b) => a - b)) {
    const d = p.leaves.get(i);
    if (!verifyInclusion(leafHash(d.leaf), i, com.leaves, d.proof, root)) {
      out.push(problem("bad_proof", LEAVES, `leaf ${i} does not lead to the signed root: not committed at ingest (a guessed or altered item)`));
    }
  }
  return out;
}

function checkItems(ev, p) {
  const rec = p.record;
  const st = p.statement;
  if (rec === null || st === null || !rec.committed) return [];
  const com = st.commitments;
  if (!isPlainObject(com)) return [];
  const out = [];
  const files = Number(com.files ?? 0);
  const size = Number(com.leaves ?? 0);
  const seenFiles = new Map();
  const used = new Set();
  const itemPaths = new Set();
  const account = (index, what) => {
    if (!isCount(index) || !(index >= 0 && index < files)) out.push(problem("counts_mismatch", RECORD, `${what}: ${index} is not a file leaf`));
    else if (seenFiles.has(index)) out.push(problem("counts_mismatch", RECORD, `file leaf ${index} is accounted for twice`));
    else seenFiles.set(index, what);
  };
  const leaf = (index, kind, where) => {
    const got = isCount(index) ? p.parsedLeaves.get(index) : undefined;
    if (got === undefined || got.kind !== kind) {
      out.push(problem("bad_disclosure_leaves", where, `leaf ${index} (${kind}) is not disclosed`));
      return null;
    }
    used.add(index);
    return got;
  };
  const archives = new Map();
  const memberItems = [];
  for (const item of rec.items) {
    if (!isPlainObject(item) || !TREATMENTS.includes(item.treatment)) {
      out.push(problem("bad_disclosure_record", RECORD, "an item is malformed"));
      continue;
    }
    const path = String(item.path);
    const t = item.treatment;
    if (t === "members") {
      account(item.file, path);
      checkArchive(item, path, leaf, archives, out);
      continue;
    }
    itemPaths.add(path);
    if (!ev.payload.has(path)) {
      out.push(problem("missing", path, `disclosed ${t} but not in the package`));
      continue;
    }
    const memberOf = item.archive ?? null;
    if (memberOf !== null) {
      memberItems.push([memberOf, t === "intact" ? item.leaf : item.file, path]);
      if (!["intact", "stripped", "redacted"].includes(t)) {
        out.push(problem("bad_disclosure_record", path, `a member cannot be ${t}`));
        continue;
      }
    }
    if (t === "intact") {
      if (memberOf === null) account(item.leaf, path);
      const fl = leaf(item.leaf, memberOf === null ? "file" : "member", path);
      if (fl !== null && memberOf !== null && fl.fields.file !== memberOf) {
        out.push(problem("swapped", path, "the member leaf is another archive's"));
      }
      if (fl !== null) {
        if (fl.fields.path !== path) out.push(problem("swapped", path, `the committed leaf is for ${fl.fields.path}`));
        else if (ev.payload.get(path) !== fl.fields.sha256) out.push(problem("changed", path, "differs from the SHA-256 committed at ingest"));
      }
      for (const j of item.fields ?? []) {
        const fld = leaf(j, "field", path);
        if (fld !== null && fld.fields.file !== item.leaf) out.push(problem("swapped", path, `field leaf ${j} is another file's`));
      }
      for (const w of item.withheld_fields ?? []) {
        if (!isPlainObject(w) || !isCount(w.leaf) || !(files <= w.leaf && w.leaf < size)) {
          out.push(problem("bad_disclosure_record", RECORD, "a withheld field is malformed"));
        }
      }
    } else if (t === "stripped" || t === "redacted") {
      if (memberOf === null) account(item.file, path);
      out.push(...checkCut(ev, item, path, leaf));
    } else if (t === "derived") {
      account(item.file, path);
      if (ev.payload.get(path) !== item.sha256) out.push(problem("changed", path, "differs from the derived copy the officer signed for"));
    } else {
      out.push(problem("bad_disclosure_record", path, "a whole-file item in a committed disclosure"));
    }
  }
  out.push(...checkMembers(archives, memberItems));
  const { out: withheld, malformed } = withheldFiles(rec, files);
  if (malformed) out.push(problem("bad_disclosure_record", RECORD, malformed));
  for (const [index] of withheld) {
    account(index, "withheld");
    if (p.leaves.has(index)) out.push(problem("bad_disclosure_record", LEAVES, `leaf ${index} is both withheld and disclosed`));
  }
  const note = rec.note;
  if (isPlainObject(note) && note.disclosed && leaf(note.leaf, "note", RECORD) !== null && note.leaf !== com.note_leaf) {
    out.push(problem("swapped", RECORD, "the note leaf is not the statement's note"));
  }
  if (seenFiles.size !== files) out.push(problem("counts_mismatch", RECORD, `${seenFiles.size} items disclosed or withheld, ${files} committed`));
  for (const path of [...ev.payload.keys()].filter((x) => !itemPaths.has(x)).sort()) {
    out.push(problem("extra", path, "in the package but not in the disclosure record"));
  }
  for (const i of [...p.leaves.keys()].filter((x) => !used.has(x)).sort((a, b) => a - b)) {
    out.push(problem("bad_disclosure_leaves", LEAVES, `leaf ${i} is disclosed but no item uses it`));
  }
  return out;
}

const isInt = (x) => typeof x === "number" && Number.isInteger(x);

// An archive disclosed as its members: its members leaf (how many, from which
// index) and the members it withholds, each an index in that range.
function checkArchive(item, path, leaf, archives, out) {
  const ml = leaf(item.members, "members", path);
  if (ml === null) return;
  if (ml.fields.file !== item.file) {
    out.push(problem("swapped", path, "the members leaf is another archive's"));
    return;
  }
  const first = Number(ml.fields.first);
  const count = Number(ml.fields.count);
  const withheld = [];
  for (const w of item.withheld ?? []) {
    const runs = isPlainObject(w) ? w.leaves : undefined;
    if (!Array.isArray(runs) || typeof w.basis !== "string") {
      out.push(problem("bad_disclosure_record", path, "a withheld member is malformed"));
      return;
    }
    for (const run of runs) {
      if (!(Array.isArray(run) && run.length === 2 && run.every(isInt) && first <= run[0] && run[0] <= run[1] && run[1] < first + count)) {
        out.push(problem("bad_disclosure_record", path, `withheld run ${JSON.stringify(run)} is not a range of this archive's members`));
        return;
      }
      for (let i = run[0]; i <= run[1]; i++) withheld.push(i);
    }
  }
  archives.set(item.file, { first, count, path, withheld });
}

function checkMembers(archives, memberItems) {
  const out = [];
  const seen = new Map([...archives].map(([a, v]) => [a, [...v.withheld]]));
  for (const [archive, index, path] of memberItems) {
    const a = archives.get(archive);
    if (a === undefined) {
      out.push(problem("bad_disclosure_record", path, "a member of an archive not disclosed by members"));
      continue;
    }
    if (!isInt(index) || !(a.first <= index && index < a.first + a.count)) {
      out.push(problem("counts_mismatch", path, "not one of its archive's members"));
      continue;
    }
    seen.get(archive).push(index);
  }
  for (const [archive, a] of archives) {
    const indices = seen.get(archive);
    if (new Set(indices).size !== indices.length) out.push(problem("counts_mismatch", a.path, "a member is accounted for twice"));
    else if (indices.length !== a.count) out.push(problem("counts_mismatch", a.path, `${indices.length} members disclosed or withheld, ${a.count} committed`));
  }
  return out;
}

function checkCut(ev, item, path, leaf) {
  const lay = leaf(item.layout, "layout", path);
  if (lay === null) return [];
  const stripped = item.treatment === "stripped";
  const kind = stripped ? "bad_stripped_copy" : "bad_redaction";
  if (lay.fields.file !== item.file) return [problem("swapped", path, "the layout leaf is another file's")];
  const parts = lay.fields.parts;
  if (!parts.every((x) => Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === "string"))) {
    return [problem(kind, path, "layout leaf: a part is not [type, role]")];
  }
  const roles = parts.map((x) => x[1]);
  const numbers = new Map();
  roles.forEach((r, i) => {
    if (r === "message") numbers.set(numbers.size + 1, i);
  });
  const redacted = stripped ? [] : item.redacted ?? [];
  if (!Array.isArray(redacted) || redacted.some((n) => !numbers.has(n))) return [problem(kind, path, "redacts a message the chat does not have")];
  const redactedParts = new Map(redacted.map((n) => [numbers.get(n), n]));
  const data = ev.read(path);
  if (data === undefined) return [problem("missing", path, "cannot be read")];
  const wanted = roles.map((r, n) => n).filter((n) => !(stripped && roles[n] === "metadata") && !redactedParts.has(n));
  const given = item.parts;
  if (!Array.isArray(given) || given.length !== wanted.length) {
    return [problem(kind, path, `${wanted.length} parts should be disclosed, ${Array.isArray(given) ? given.length : 0} are`)];
  }
  const byN = new Map();
  for (const j of given) {
    const pl = leaf(j, "part", path);
    if (pl === null) return [];
    if (pl.fields.file !== item.file) return [problem("swapped", path, `part leaf ${j} is another file's`)];
    byN.set(pl.fields.n, pl);
  }
  const keys = [...byN.keys()].sort((a, b) => a - b);
  if (keys.length !== wanted.length || keys.some((k, i) => k !== wanted[i])) {
    return [problem(kind, path, "the disclosed parts are not the ones this copy keeps")];
  }
  const fillers = new Map();
  if (stripped && lay.fields.format === "isobmff") {
    const f = item.fillers;
    const metadata = roles.map((r, n) => n).filter((n) => roles[n] === "metadata");
    if (!Array.isArray(f) || !f.every((x) => Array.isArray(x) && x.length === 2 && x.every(isCount) && x[1] >= 8)) {
      return [problem(kind, path, "the free boxes that replace metadata are malformed")];
    }
    for (const [n, size] of f) fillers.set(n, size);
    const ks = [...fillers.keys()].sort((a, b) => a - b);
    if (ks.length !== metadata.length || ks.some((k, i) => k !== metadata[i])) {
      return [problem(kind, path, "the free boxes are not where the metadata boxes were")];
    }
  }
  let pos = 0;
  for (let n = 0; n < roles.length; n++) {
    if (stripped && roles[n] === "metadata") {
      if (fillers.has(n)) {
        const size = fillers.get(n);
        const box = data.subarray(pos, pos + size);
        const ok =
          box.length === size &&
          new DataView(box.buffer, box.byteOffset, 4).getUint32(0) === size &&
          box[4] === 0x66 && box[5] === 0x72 && box[6] === 0x65 && box[7] === 0x65 &&
          box.subarray(8).every((b) => b === 0);
        if (!ok) return [problem(kind, path, `part ${n} is not replaced by an empty free box`)];
        pos += size;
      }
      continue;
    }
    if (redactedParts.has(n)) {
      const marker = enc.encode(`[message ${redactedParts.get(n)} redacted]\n`);
      const here = data.subarray(pos, pos + marker.length);
      if (here.length !== marker.length || here.some((b, i) => b !== marker[i])) {
        return [problem(kind, path, `message ${redactedParts.get(n)} is not replaced by its marker: a message is missing, moved or forged`)];
      }
      pos += marker.length;
      continue;
    }
    const pl = byN.get(n);
    const chunk = data.subarray(pos, pos + pl.fields.size);
    if (sha256Hex(chunk) !== pl.fields.sha256) {
      return [
        problem(
          kind,
          path,
          stripped
            ? `part ${n} (${lay.fields.format} ${parts[n][0]}) differs from the original: more than metadata was changed`
            : `part ${n} differs from the original: a message was changed, moved or forged`,
        ),
      ];
    }
    pos += chunk.length;
  }
  if (pos !== data.length) return [problem(kind, path, `${data.length - pos} bytes after the last committed part`)];
  return [];
}

function checkWhole(ev, p, original) {
  const rec = p.record;
  const st = p.statement;
  if (rec === null || st === null || rec.committed) return [];
  const out = [];
  const names = [["manifest-sha256.txt", "manifest_sha256"], ["bag-info.txt", "bag_info_sha256"], ["metadata.json", "metadata_sha256"]];
  if ("names_sha256" in st) names.push(["names.json", "names_sha256"]);
  for (const [name, field] of names) {
    const data = original.get(name);
    const where = `${ORIGINAL_DIR}/${name}`;
    if (data === undefined) out.push(problem("missing", where, "the original tag file is missing"));
    else if (sha256Hex(data) !== st[field]) out.push(problem("statement_mismatch", where, "differs from the version the statement signed"));
  }
  const manifestBytes = original.get("manifest-sha256.txt");
  if (manifestBytes === undefined) return out;
  const manifest = L.parseManifest(manifestBytes).entries;
  for (const [path, digest] of manifest) {
    const got = ev.payload.get(path);
    if (got === undefined) out.push(problem("missing", path, "signed in the original manifest, not in the package (a whole disclosure leaves nothing out)"));
    else if (got !== digest) out.push(problem("changed", path, "differs from the original manifest"));
  }
  for (const path of [...ev.payload.keys()].filter((x) => !manifest.has(x)).sort()) {
    out.push(problem("extra", path, "not in the original manifest"));
  }
  return out;
}

function checkDisclosureLedger(ev, p) {
  if (ev.ledgerProof === undefined || p.record === null || ev.recordBytes === undefined) return { info: null, problems: [] };
  const bad = (detail) => ({ info: null, problems: [problem("bad_ledger_proof", LEDGER_PROOF, detail)] });
  let doc, entry, signature, index, size, path, cp, parsed;
  try {
    doc = JSON.parse(decodeStrict(ev.ledgerProof));
    entry = enc.encode(String(doc.entry));
    signature = b64decode(doc.signature);
    index = Number.parseInt(doc.leaf_index, 10);
    size = Number.parseInt(doc.tree_size, 10);
    path = doc.inclusion_proof.map((h) => b64decode(h));
    if (signature === null || path.some((x) => x === null) || !Number.isSafeInteger(index) || !Number.isSafeInteger(size)) throw new Error("malformed");
    parsed = parseEntry(entry);
    cp = parseCheckpoint(enc.encode(String(doc.checkpoint)));
  } catch (e) {
    return bad(`malformed proof (${e.constructor?.name ?? "Error"})`);
  }
  if (parsed.action !== "disclose") return bad(`the ledger entry records '${parsed.action}', not a disclosure`);
  if (parsed.subject.record_sha256 !== sha256Hex(ev.recordBytes)) return bad("the ledger entry is for another disclosure record");
  if (!ed25519Valid(parsed.actorKey, signature, entry)) return bad("the ledger entry's signature does not verify");
  if (parsed.actorFingerprint !== p.record.key_fingerprint) return bad("the ledger entry was not made by the disclosing officer");
  if (!checkpointSignedBy(cp, parsed.actorKey)) return bad("the checkpoint is not signed by the disclosing officer");
  if (cp.size !== BigInt(size) || !verifyInclusion(leafHash(entry), index, size, path, cp.root)) {
    return bad(`inclusion proof does not lead to the checkpoint (entry ${index} of ${size})`);
  }
  return { info: { leaf_index: index, tree_size: size, origin: cp.origin, proof_valid: true }, problems: [] };
}

function summarise(p) {
  const rec = p.record ?? {};
  const st = p.statement ?? {};
  const com = isPlainObject(st.commitments) ? st.commitments : null;
  const everything = (rec.items ?? []).filter(isPlainObject);
  const items = everything.filter((i) => (i.archive ?? null) === null);
  const byBasis = {};
  for (const [, b] of withheldFiles(rec, com ? Number(com.files ?? 0) : 0).out) byBasis[b] = (byBasis[b] ?? 0) + 1;
  const note = rec.note;
  return {
    committed: com ? Number(com.files ?? 0) : items.length,
    whole: !(rec.committed ?? true),
    disclosed: items.filter((i) => i.treatment === "intact" || i.treatment === "whole").length,
    stripped: items.filter((i) => i.treatment === "stripped").length,
    messages_redacted: everything.filter((i) => i.treatment === "redacted").map((i) => ({ path: i.path ?? null, redacted: (i.redacted ?? []).length, of: i.messages ?? null, basis: i.basis ?? null })),
    derived: items.filter((i) => i.treatment === "derived").map((i) => ({ path: i.path ?? null, method: i.method ?? null, basis: i.basis ?? null, attested_by: rec.officer ?? null })),
    archives: items.filter((a) => a.treatment === "members").map((a) => summariseArchive(a, everything)),
    withheld: Object.values(byBasis).reduce((a, b) => a + b, 0),
    withheld_by_basis: byBasis,
    withheld_fields: everything.reduce((a, i) => a + (i.withheld_fields ?? []).length, 0),
    note: isPlainObject(note) && note.disclosed ? "disclosed" : isPlainObject(note) ? "withheld" : "none",
    to: rec.to ?? null,
    disclosed_by: rec.officer ?? null,
    disclosure_id: rec.disclosure_id ?? null,
    created: rec.created ?? null,
    supplement_to: rec.supplement_to ?? null,
  };
}

function summariseArchive(item, everything) {
  const members = everything.filter((i) => (i.archive ?? null) === item.file);
  const byBasis = {};
  for (const w of item.withheld ?? []) {
    if (isPlainObject(w) && Array.isArray(w.leaves)) {
      for (const run of w.leaves) {
        if (Array.isArray(run) && run.length === 2 && run.every(isInt)) {
          const b = String(w.basis);
          byBasis[b] = (byBasis[b] ?? 0) + run[1] - run[0] + 1;
        }
      }
    }
  }
  const withheld = Object.values(byBasis).reduce((a, b) => a + b, 0);
  const count = (t) => members.filter((i) => i.treatment === t).length;
  return {
    path: item.path ?? null,
    members: members.length + withheld,
    disclosed: count("intact"),
    stripped: count("stripped"),
    redacted: count("redacted"),
    withheld,
    withheld_by_basis: byBasis,
  };
}

export function sentence(s) {
  if (s.whole) return `${s.disclosed} files disclosed whole (the bundle was made before commitments existed: nothing could be withheld)`;
  const parts = [];
  if (s.disclosed) parts.push(`${s.disclosed} disclosed intact`);
  if (s.stripped) parts.push(`${s.stripped} with metadata stripped (proven)`);
  const inArchive = (r) => (s.archives ?? []).some((a) => String(r.path).startsWith(`${a.path}/`));
  for (const r of s.messages_redacted) {
    if (!inArchive(r)) parts.push(`1 chat with ${r.redacted} of ${r.of} messages redacted (proven)`);
  }
  for (const d of s.derived) parts.push(`1 derived by ${d.method} (attested by ${d.attested_by})`);
  for (const a of s.archives ?? []) {
    const inner = [];
    if (a.disclosed) inner.push(`${a.disclosed} intact`);
    if (a.stripped) inner.push(`${a.stripped} with metadata stripped (proven)`);
    for (const r of s.messages_redacted) {
      if (String(r.path).startsWith(`${a.path}/`)) inner.push(`1 chat with ${r.redacted} of ${r.of} messages redacted (proven)`);
    }
    for (const b of Object.keys(a.withheld_by_basis).sort()) inner.push(`${a.withheld_by_basis[b]} withheld under ${b}`);
    parts.push(`1 archive disclosed as its ${a.members} members (${inner.join(", ")})`);
  }
  for (const b of Object.keys(s.withheld_by_basis).sort()) parts.push(`${s.withheld_by_basis[b]} withheld under ${b}`);
  return `${s.committed} committed: ${parts.length ? parts.join(", ") : "nothing disclosed"}`;
}
