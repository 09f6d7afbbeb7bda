// What is in a bundle, before anything is judged (custody's bundle/reader.py):
// a folder given as a list of files, or a .zip read in place. Every regular
// file is hashed once by the worker pool; small tag files are kept in memory.
import * as L from "./layout.js";
import { candidate, classify, KIND, MACOSX_DIR, MAX_LEFTOVER_BYTES, within } from "./leftovers.js";
import { HashPool } from "./pool.js";
import { ArchiveRefused, listZip, ZipError } from "./zip.js";

const MAX_MEMBERS = 1_000_000;
const MAX_NAME_BYTES = 4096;
const BOMB_RATIO = 1000;
const BOMB_MIN_BYTES = 256 * 1024 * 1024;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export class NotABundle extends Error {}

/** The page's pool of hashing Workers; `newPool` in the options replaces it
 * (verifier/test/ hashes in-process with worker.js's own `answer`). */
const defaultPool = (workers, onBytes) => new HashPool(workers, onBytes);

const problem = (kind, path, detail) => ({ kind, path, detail });
const newScan = (location) => ({ location, files: new Map(), tagBytes: new Map(), problems: [], oddPaths: new Set() });
const utf8Length = (s) => new TextEncoder().encode(s).length;

/** The bundle root among archive or folder names (reader._find_root). */
function findRoot(names) {
  if (names.has(L.BAGIT_TXT)) return "";
  // Finder's Compress puts resource forks in a __MACOSX/ tree beside the
  // folder, macOS tar an AppleDouble ._FOLDER, and a .DS_Store can sit
  // beside it: none is a second top (each is judged as a leftover later).
  const tops = new Set([...names].map((n) => n.split("/", 1)[0]));
  tops.delete(MACOSX_DIR);
  tops.delete(".DS_Store");
  for (const t of [...tops]) if (t.startsWith("._") && tops.has(t.slice(2))) tops.delete(t);
  if (tops.size === 1) {
    const top = [...tops][0];
    if (names.has(`${top}/${L.BAGIT_TXT}`)) return `${top}/`;
  }
  return null;
}

async function hashAll(pool, items, scan, onProgress) {
  // items: [{rel, job, wantBytes}], hashed concurrently; results keyed to rel.
  await Promise.all(
    items.map(async (item) => {
      const r = await pool.hash(item.job);
      if (r.error !== undefined) {
        scan.problems.push(problem("unreadable", item.rel, item.unreadable(r.error)));
        scan.oddPaths.add(item.rel);
        return;
      }
      scan.files.set(item.rel, { size: r.size, sha256: r.sha256 });
      if (r.bytes && item.wantBytes && r.size <= L.MAX_TAG_FILE_BYTES) scan.tagBytes.set(item.rel, r.bytes);
      onProgress?.();
    }),
  );
}

/**
 * A folder: entries [{path, file}] with paths relative to the chosen folder,
 * as a directory picker or a drop gives them. The chosen folder is the
 * bundle; a folder holding exactly one bundle folder is accepted too.
 */
export async function scanFolder(entries, { location, workers, onBytes, onProgress, keepBytes, newPool = defaultPool }) {
  const names = new Set(entries.map((e) => e.path));
  let prefix = "";
  if (!names.has(L.BAGIT_TXT) && !names.has(L.STATEMENT)) {
    prefix = findRoot(names);
    if (prefix === null) throw new NotABundle("not a bundle (no bagit.txt)");
  }
  const scan = newScan(location);
  const items = [];
  for (const { path, file } of entries) {
    if (!path.startsWith(prefix)) continue;
    const rel = path.slice(prefix.length);
    const kept = keepBytes?.(rel) ?? false; // a disclosure's stripped or redacted copy (disclosure.js)
    const wantBytes = (L.wantsBytes(rel) || kept || (candidate(rel) && file.size <= MAX_LEFTOVER_BYTES)) && file.size <= L.MAX_TAG_FILE_BYTES;
    items.push({
      rel,
      wantBytes,
      unreadable: (e) => `cannot be read (${e})`,
      job: { blob: file, offset: 0, compressedSize: file.size, expectedSize: file.size, method: 0, wantBytes, checkCrc: false },
    });
  }
  onBytes.total(items.reduce((n, i) => n + i.job.expectedSize, 0), items.length);
  const pool = newPool(workers, onBytes.add);
  try {
    await hashAll(pool, items, scan, onProgress);
  } finally {
    pool.close();
  }
  return scan;
}

function relative(p, root) {
  if (root && typeof p.path === "string" && p.path.startsWith(root) && p.path.length > root.length) {
    return { ...p, path: p.path.slice(root.length) };
  }
  return p;
}

function cleanMemberName(name) {
  while (name.startsWith("./")) name = name.slice(2);
  return name.endsWith("/") ? name.replace(/\/+$/, "") : name;
}

/** A .zip read in place (reader._scan_zip and _ArchiveCollector). */
export async function scanZip(file, { location, workers, onBytes, onProgress, keepBytes, newPool = defaultPool }) {
  let members;
  try {
    members = await listZip(file);
  } catch (e) {
    // A RangeError from a length that points past the end is damage too.
    const known = e instanceof ZipError || e instanceof ArchiveRefused || e instanceof RangeError;
    const message = known ? e.message : String(e);
    const plain = message.startsWith("not a .zip") || message.startsWith("archive refused: ") || message.startsWith("damaged or truncated zip");
    throw new NotABundle(plain ? message : `damaged zip archive (${message})`);
  }
  if (members.length > MAX_MEMBERS) throw new NotABundle(`archive holds more than ${MAX_MEMBERS} members`);
  const problems = [];
  const names = new Set();
  const rawOdd = new Map();
  const wanted = [];
  for (const m of members) {
    const raw = m.name;
    if (utf8Length(raw) > MAX_NAME_BYTES) {
      problems.push(problem("unsafe_path", `${raw.slice(0, 80)}...`, "archive member name is too long"));
      continue;
    }
    const name = cleanMemberName(raw);
    if ((name === "" || name === ".") && (raw.endsWith("/") || raw === "." || raw === "./")) continue;
    const reason = L.unsafePathReason(name);
    if (reason !== null) {
      problems.push(problem("unsafe_path", raw, `archive member rejected: ${reason}`));
      continue;
    }
    if (names.has(name)) {
      problems.push(problem("duplicate_entry", name, "archive holds this path twice"));
      rawOdd.set(name, "duplicate");
      continue;
    }
    names.add(name);
    if (m.isDir) continue;
    const type = m.mode & S_IFMT;
    if (type === S_IFLNK) rawOdd.set(name, "symbolic link");
    else if (type !== 0 && type !== S_IFREG) rawOdd.set(name, "special file");
    else if (m.flags & 0x1) rawOdd.set(name, "encrypted archive member");
    else if (m.size > BOMB_MIN_BYTES && m.size > BOMB_RATIO * Math.max(1, m.compressedSize)) {
      rawOdd.set(name, `compressed ${m.compressedSize} bytes claim to hold ${m.size}: a zip bomb, not read`);
    } else wanted.push({ name, m });
  }
  // The root is decided from the names alone, before anything is read, so the
  // tag files' bytes can be kept as they stream past.
  const root = findRoot(new Set([...wanted.map((w) => w.name), ...rawOdd.keys()]));
  if (root === null) throw new NotABundle("archive holds no bundle (no bagit.txt at its top)");
  const scan = newScan(location);
  scan.problems.push(...problems);
  const raw = newScan(location);
  const items = [];
  for (const { name, m } of wanted) {
    const inner = name.includes("/") ? name.split("/").slice(1).join("/") : name;
    const mayBeLeftover = (candidate(name) || candidate(inner)) && m.size <= MAX_LEFTOVER_BYTES;
    const kept = (keepBytes?.(name) || keepBytes?.(inner)) ?? false; // a disclosure's stripped or redacted copy (disclosure.js)
    const wantBytes = ((L.wantsBytes(name) && L.wantsBytes(inner)) || kept || mayBeLeftover) && m.size <= L.MAX_TAG_FILE_BYTES;
    items.push({
      rel: name,
      wantBytes,
      unreadable: (e) => `archive member cannot be read (${e})`,
      job: {
        blob: file,
        offset: 0,
        member: { localOffset: m.localOffset, rawName: m.rawName, extraLength: m.extraLength },
        compressedSize: m.compressedSize,
        expectedSize: m.size,
        method: m.method,
        wantBytes,
        checkCrc: true,
        crc: m.crc,
      },
    });
  }
  onBytes.total(items.reduce((n, i) => n + i.job.expectedSize, 0), items.length);
  const pool = newPool(workers, onBytes.add);
  try {
    await hashAll(pool, items, raw, onProgress);
  } finally {
    pool.close();
  }
  scan.problems.push(...raw.problems);
  for (const rel of raw.oddPaths) rawOdd.set(rel, "duplicate"); // known, already reported
  // Keyed to the root, in the archive's order (reader._ArchiveCollector.finish);
  // problem paths bundle-relative, as for a folder.
  scan.problems = scan.problems.map((p) => relative(p, root));
  const beside = within(names);
  for (const { name } of wanted) {
    const scanned = raw.files.get(name);
    if (scanned === undefined) continue;
    if (!name.startsWith(root)) {
      const why = classify(name, raw.tagBytes.get(name), beside);
      scan.problems.push(why === null ? problem("extra", name, "outside the bundle folder in the archive") : problem(KIND, name, why));
      continue;
    }
    const rel = name.slice(root.length);
    scan.files.set(rel, scanned);
    if (raw.tagBytes.has(name)) scan.tagBytes.set(rel, raw.tagBytes.get(name));
  }
  for (const [name, what] of rawOdd) {
    const rel = name.startsWith(root) ? name.slice(root.length) : name;
    scan.oddPaths.add(rel);
    if (what !== "duplicate") {
      scan.problems.push(problem("not_regular_file", rel, `${what}: never followed, not accepted as evidence`));
      scan.oddPaths.add(rel);
    }
  }
  return scan;
}
