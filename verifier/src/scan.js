// What is in a bundle, before anything is judged (custody's bundle/reader.py):
// a folder given as a list of files, or a .zip read in place. Every regular
// file is hashed once by the worker pool; small tag files are kept in memory.
import * as L from "./layout.js";
import { candidate, classify, KIND, MACOSX_DIR, MAX_LEFTOVER_BYTES, within } from "./leftovers.js";
import { FileMap } from "./paths.js";
import { HashPool } from "./pool.js";
import { ArchiveRefused, listZip, NAME_SCRATCH, ZipError } from "./zip.js";

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
const newScan = (location) => ({ location, files: new FileMap(), tagBytes: new Map(), problems: [], oddPaths: new Set() });
const encoder = new TextEncoder();
/** Is a name longer than MAX_NAME_BYTES in UTF-8? (n UTF-16 units are at most 3n bytes,
 * so a short name need not be encoded to know.) */
const tooLong = (s) => s.length * 3 > MAX_NAME_BYTES && encoder.encode(s).length > MAX_NAME_BYTES;

/** The bundle root among archive or folder names (reader._find_root). */
const findRoot = (names) => findRootOf((n) => names.has(n), names);

/** findRoot over names given as a membership test and an iterable of them. */
function findRootOf(has, all) {
  if (has(L.BAGIT_TXT)) return "";
  // Finder's Compress puts resource forks in a __MACOSX/ tree beside the
  // folder, macOS tar an AppleDouble ._FOLDER, and a .DS_Store can sit
  // beside it: none is a second top (each is judged as a leftover later).
  const tops = new Set();
  for (const n of all) tops.add(n.split("/", 1)[0]);
  tops.delete(MACOSX_DIR);
  tops.delete(".DS_Store");
  for (const t of [...tops]) if (t.startsWith("._") && tops.has(t.slice(2))) tops.delete(t);
  if (tops.size === 1) {
    const top = [...tops][0];
    if (has(`${top}/${L.BAGIT_TXT}`)) return `${top}/`;
  }
  return null;
}

/** Hash `items` (an iterable of {rel, job, wantBytes, unreadable}, or of runs of
 * them, {run: [items], job}) a window at a time, so that the jobs waiting are a few
 * hundred, never one per file; each file's result goes to `found(rel, {size, sha256},
 * bytes or null)`, each failure to scan.problems. */
async function hashAll(pool, items, workers, scan, onProgress, found) {
  const settle = (item, r) => {
    if (r.error !== undefined) {
      scan.problems.push(problem("unreadable", item.rel, item.unreadable(r.error)));
      scan.oddPaths.add(item.rel);
      return;
    }
    const keep = r.bytes && item.wantBytes && r.size <= L.MAX_TAG_FILE_BYTES;
    found(item.rel, { size: r.size, sha256: r.sha256 }, keep ? r.bytes : null);
    onProgress?.();
  };
  const it = items[Symbol.iterator]();
  const one = async () => {
    for (let next = it.next(); !next.done; next = it.next()) {
      const item = next.value;
      const r = await pool.hash(item.job);
      if (item.run === undefined) settle(item, r);
      else item.run.forEach((member, k) => settle(member, r.error !== undefined ? r : r.results[k]));
    }
  };
  await Promise.all(Array.from({ length: Math.max(16, 4 * workers) }, one));
}

// Small zip members that lie near one another are hashed in runs: one slice of the
// file for the run, not one (or two) per member (worker.js answerRun).
const RUN_BYTES = 1024 * 1024;
const RUN_MEMBERS = 1024;
const RUN_MEMBER_MAX = 256 * 1024;

/** The zip's items grouped into runs of members close together in the file. */
function* runsOf(items, blob) {
  let run = [];
  let start = 0;
  let end = 0;
  const made = () => {
    const out =
      run.length === 1
        ? run[0]
        : { run, job: { blob, start, end, members: run.map(({ job: { blob: _, ...job } }) => job) } };
    run = [];
    return out;
  };
  for (const item of items) {
    const { job } = item;
    const m = job.member;
    const itemEnd = m.localOffset + 30 + m.nameLength + m.extraLength + 256 + job.compressedSize;
    const fits = job.compressedSize <= RUN_MEMBER_MAX;
    if (run.length && !(fits && m.localOffset >= run[run.length - 1].job.member.localOffset && Math.max(end, itemEnd) - start <= RUN_BYTES && run.length < RUN_MEMBERS)) {
      yield made();
    }
    if (!fits) {
      yield item;
      continue;
    }
    if (!run.length) {
      start = m.localOffset;
      end = itemEnd;
    }
    end = Math.max(end, itemEnd);
    run.push(item);
  }
  if (run.length) yield made();
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
  let total = 0;
  let count = 0;
  for (const { path, file } of entries) {
    if (!path.startsWith(prefix)) continue;
    total += file.size;
    count += 1;
  }
  const items = function* () {
    for (const { path, file } of entries) {
      if (!path.startsWith(prefix)) continue;
      const rel = path.slice(prefix.length);
      const kept = keepBytes?.(rel) ?? false; // a disclosure's stripped or redacted copy (disclosure.js)
      const wantBytes = (L.wantsBytes(rel) || kept || (candidate(rel) && file.size <= MAX_LEFTOVER_BYTES)) && file.size <= L.MAX_TAG_FILE_BYTES;
      yield {
        rel,
        wantBytes,
        unreadable: FOLDER_UNREADABLE,
        job: { blob: file, offset: 0, compressedSize: file.size, expectedSize: file.size, method: 0, wantBytes, checkCrc: false },
      };
    }
  };
  onBytes.total(total, count);
  const pool = newPool(workers, onBytes.add);
  try {
    await hashAll(pool, items(), workers, scan, onProgress, (rel, found, bytes) => {
      scan.files.set(rel, found);
      if (bytes) scan.tagBytes.set(rel, bytes);
    });
  } finally {
    pool.close();
  }
  return scan;
}

const FOLDER_UNREADABLE = (e) => `cannot be read (${e})`;

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

/** A .zip read in place (reader._scan_zip and _ArchiveCollector). Per member, only
 * its name and numbers (zip.js MemberTable) and its row in the scan's path table
 * (paths.js) are held; the members are hashed a window at a time. */
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
  const dirs = new Set();
  const rawOdd = new Map();
  const wanted = []; // member indexes, in the archive's order
  const cleaned = []; // their cleaned names (the same strings as in `names`)
  let wantedBytes = 0;
  for (let i = 0; i < members.length; i++) {
    const raw = members.names[i];
    if (tooLong(raw)) {
      problems.push(problem("unsafe_path", `${raw.slice(0, 80)}...`, "archive member name is too long"));
      continue;
    }
    const name = cleanMemberName(raw);
    const isDir = raw.endsWith("/");
    if ((name === "" || name === ".") && (isDir || raw === "." || raw === "./")) continue;
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
    if (isDir) {
      dirs.add(name);
      continue;
    }
    const type = (members.modes[i] >>> 0) & S_IFMT;
    const size = members.sizes[i];
    const compressedSize = members.compressedSizes[i];
    if (type === S_IFLNK) rawOdd.set(name, "symbolic link");
    else if (type !== 0 && type !== S_IFREG) rawOdd.set(name, "special file");
    else if (members.flagsOf[i] & 0x1) rawOdd.set(name, "encrypted archive member");
    else if (size > BOMB_MIN_BYTES && size > BOMB_RATIO * Math.max(1, compressedSize)) {
      rawOdd.set(name, `compressed ${compressedSize} bytes claim to hold ${size}: a zip bomb, not read`);
    } else {
      wanted.push(i);
      cleaned.push(name);
      wantedBytes += size;
    }
  }
  // The root is decided from the names alone, before anything is read, so the
  // tag files' bytes can be kept as they stream past. (The files among the names:
  // the members wanted and the odd ones; a duplicate's name is a wanted one's.)
  const isFile = (n) => names.has(n) && (!dirs.has(n) || rawOdd.has(n));
  const root = findRootOf(isFile, (function* () {
    for (const n of names) if (isFile(n)) yield n;
  })());
  if (root === null) throw new NotABundle("archive holds no bundle (no bagit.txt at its top)");
  const scan = newScan(location);
  scan.problems.push(...problems);
  // Each bundle file's row made now, in the archive's order (reader._ArchiveCollector.finish).
  for (const name of cleaned) if (name.startsWith(root)) scan.files.table.slot(name.slice(root.length));
  const raw = { problems: [], oddPaths: new Set(), tagBytes: new Map(), outside: new Map() };
  const scratch = new Uint8Array(NAME_SCRATCH);
  const items = function* () {
    for (let k = 0; k < wanted.length; k++) {
      const name = cleaned[k];
      const m = members.get(wanted[k], scratch);
      const inner = name.includes("/") ? name.split("/").slice(1).join("/") : name;
      const mayBeLeftover = (candidate(name) || candidate(inner)) && m.size <= MAX_LEFTOVER_BYTES;
      const kept = (keepBytes?.(name) || keepBytes?.(inner)) ?? false; // a disclosure's stripped or redacted copy (disclosure.js)
      const wantBytes = ((L.wantsBytes(name) && L.wantsBytes(inner)) || kept || mayBeLeftover) && m.size <= L.MAX_TAG_FILE_BYTES;
      yield {
        rel: name,
        wantBytes,
        unreadable: ARCHIVE_UNREADABLE,
        job: {
          blob: file,
          offset: 0,
          // The worker encodes the name again (worker.js rawNameOf): no buffer per member here.
          member: { localOffset: m.localOffset, name: m.name, nameLength: m.rawName.length, extraLength: m.extraLength },
          compressedSize: m.compressedSize,
          expectedSize: m.size,
          method: m.method,
          wantBytes,
          checkCrc: true,
          crc: m.crc,
        },
      };
    }
  };
  onBytes.total(wantedBytes, wanted.length);
  const pool = newPool(workers, onBytes.add);
  try {
    await hashAll(pool, runsOf(items(), file), workers, raw, onProgress, (name, found, bytes) => {
      if (name.startsWith(root)) scan.files.set(name.slice(root.length), found);
      else raw.outside.set(name, found);
      if (bytes) raw.tagBytes.set(name, bytes);
    });
  } finally {
    pool.close();
  }
  scan.problems.push(...raw.problems);
  for (const rel of raw.oddPaths) rawOdd.set(rel, "duplicate"); // known, already reported
  // Problem paths bundle-relative, as for a folder; tag files' bytes in the archive's order.
  scan.problems = scan.problems.map((p) => relative(p, root));
  let beside = null;
  const lazyBeside = (p) => (beside ??= within(names))(p);
  for (const name of cleaned) {
    if (!name.startsWith(root)) {
      if (!raw.outside.has(name)) continue;
      const why = classify(name, raw.tagBytes.get(name), lazyBeside);
      scan.problems.push(why === null ? problem("extra", name, "outside the bundle folder in the archive") : problem(KIND, name, why));
      continue;
    }
    if (raw.tagBytes.has(name)) scan.tagBytes.set(name.slice(root.length), raw.tagBytes.get(name));
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

const ARCHIVE_UNREADABLE = (e) => `archive member cannot be read (${e})`;
