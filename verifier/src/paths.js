// A scan's per-file state kept flat (issue 26: a bundle of a million files).
// One table per scan holds each path once (one string, one Map slot) and its
// numbers in typed arrays: the size and SHA-256 found, and, once the payload
// manifest is joined in, whether the manifest lists it and with which digest.
// `scan.files` and the manifest evaluate() reads are Map-like views of it, so
// the checks read them as they read Maps, with no object and no hex string
// held per file.

const HEX64 = /^[0-9a-f]{64}$/;
const FOUND = 1; // the scan read the file
const LISTED = 2; // the payload manifest lists it
const LISTED_AS_FOUND = 4; // ... with the digest the scan found

const HEX_CODES = Uint16Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const CODES = new Uint16Array(64);

/** 64 lowercase hex digits into 32 bytes at `at` (the caller has checked them). */
function putHex(bytes, at, hex) {
  for (let k = 0; k < 32; k++) {
    const hi = hex.charCodeAt(2 * k);
    const lo = hex.charCodeAt(2 * k + 1);
    bytes[at + k] = ((hi <= 57 ? hi - 48 : hi - 87) << 4) | (lo <= 57 ? lo - 48 : lo - 87);
  }
}

/** 32 bytes at `at` as 64 lowercase hex digits: one string, no pieces. */
function getHex(bytes, at) {
  for (let k = 0; k < 32; k++) {
    CODES[2 * k] = HEX_CODES[bytes[at + k] >> 4];
    CODES[2 * k + 1] = HEX_CODES[bytes[at + k] & 15];
  }
  return String.fromCharCode.apply(null, CODES);
}

export class PathTable {
  constructor() {
    this.slots = new Map(); // path -> slot
    this.paths = [];
    this.count = 0;
    this.capacity = 0;
    this.odd = new Map(); // slot -> a digest that is not 64 lowercase hex digits (kept as given)
    this.grow(1024);
  }

  grow(capacity) {
    const widen = (Kind, old, width = 1) => {
      const next = new Kind(capacity * width);
      if (old) next.set(old.subarray(0, this.count * width));
      return next;
    };
    this.sizes = widen(Float64Array, this.sizes);
    this.digests = widen(Uint8Array, this.digests, 32);
    this.flags = widen(Uint8Array, this.flags);
    this.capacity = capacity;
  }

  /** The slot of `path`, made (empty) when there is none. */
  slot(path) {
    let s = this.slots.get(path);
    if (s === undefined) {
      if (this.count === this.capacity) this.grow(this.capacity * 2);
      s = this.count++;
      this.slots.set(path, s);
      this.paths.push(path);
    }
    return s;
  }

  digestAt(s) {
    return this.odd.has(s) ? this.odd.get(s) : getHex(this.digests, s * 32);
  }
}

/** `scan.files`: path -> {size, sha256}, a Map's reading methods over a PathTable
 * (in the order the paths were first seen), less the paths set aside. */
export class FileMap {
  constructor(table = new PathTable(), without = null) {
    this.table = table;
    this.without = without; // a Set of paths not in this view (leftovers set aside)
    this.count = 0;
    if (without !== null) {
      for (let s = 0; s < table.count; s++) if (table.flags[s] & FOUND && !without.has(table.paths[s])) this.count++;
    }
  }

  get size() {
    return this.count;
  }

  #slot(path) {
    if (this.without?.has(path)) return undefined;
    const s = this.table.slots.get(path);
    return s !== undefined && this.table.flags[s] & FOUND ? s : undefined;
  }

  has(path) {
    return this.#slot(path) !== undefined;
  }

  get(path) {
    const s = this.#slot(path);
    return s === undefined ? undefined : { size: this.table.sizes[s], sha256: this.table.digestAt(s) };
  }

  set(path, { size, sha256 }) {
    if (this.without !== null) throw new Error("a view without set-aside files is read-only");
    const t = this.table;
    const s = t.slot(path);
    if (!(t.flags[s] & FOUND)) this.count++;
    t.flags[s] |= FOUND;
    t.sizes[s] = size;
    if (typeof sha256 === "string" && HEX64.test(sha256)) {
      putHex(t.digests, s * 32, sha256);
      t.odd.delete(s);
    } else t.odd.set(s, sha256);
    return this;
  }

  /** The same files less `paths` (a Set). */
  less(paths) {
    const all = new Set(paths);
    if (this.without !== null) for (const p of this.without) all.add(p);
    return new FileMap(this.table, all);
  }

  *keys() {
    const t = this.table;
    for (let s = 0; s < t.count; s++) {
      if (t.flags[s] & FOUND && !this.without?.has(t.paths[s])) yield t.paths[s];
    }
  }

  *entries() {
    const t = this.table;
    for (let s = 0; s < t.count; s++) {
      const path = t.paths[s];
      if (t.flags[s] & FOUND && !this.without?.has(path)) yield [path, { size: t.sizes[s], sha256: t.digestAt(s) }];
    }
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator]() {
    return this.entries();
  }
}

/** {count, bytes} of the files `isTag` says are payload, in a scan's `files`. */
export function payloadTotals(files, isTag) {
  let count = 0;
  let bytes = 0;
  if (files instanceof FileMap) {
    const t = files.table;
    for (let s = 0; s < t.count; s++) {
      if (t.flags[s] & FOUND && !isTag(t.paths[s]) && !files.without?.has(t.paths[s])) {
        count += 1;
        bytes += t.sizes[s];
      }
    }
  } else {
    for (const [path, f] of files) {
      if (!isTag(path)) {
        count += 1;
        bytes += f.size;
      }
    }
  }
  return { count, bytes };
}

/**
 * The payload manifest's entries joined into the scan's table: path -> sha256 in
 * the manifest's order, a Map's reading methods. A listed path the scan found
 * with the same digest costs one flag; any other keeps its digest beside.
 */
export class ManifestMap {
  constructor(table) {
    this.table = table;
    this.order = new Int32Array(1024); // slots in the manifest's order
    this.size = 0;
    this.differs = new Map(); // slot -> digest, when not the one the scan found
  }

  /** Add a line's entry (the caller has checked it is not listed twice). */
  add(path, digest) {
    const t = this.table;
    const s = t.slot(path);
    if (this.size === this.order.length) {
      const next = new Int32Array(this.order.length * 2);
      next.set(this.order);
      this.order = next;
    }
    this.order[this.size++] = s;
    t.flags[s] |= LISTED;
    if (t.flags[s] & FOUND && !t.odd.has(s) && getHex(t.digests, s * 32) === digest) t.flags[s] |= LISTED_AS_FOUND;
    else this.differs.set(s, digest);
  }

  #slot(path) {
    const s = this.table.slots.get(path);
    return s !== undefined && this.table.flags[s] & LISTED ? s : undefined;
  }

  #digest(s) {
    return this.table.flags[s] & LISTED_AS_FOUND ? getHex(this.table.digests, s * 32) : this.differs.get(s);
  }

  has(path) {
    return this.#slot(path) !== undefined;
  }

  get(path) {
    const s = this.#slot(path);
    return s === undefined ? undefined : this.#digest(s);
  }

  *keys() {
    for (let k = 0; k < this.size; k++) yield this.table.paths[this.order[k]];
  }

  *entries() {
    for (let k = 0; k < this.size; k++) {
      const s = this.order[k];
      yield [this.table.paths[s], this.#digest(s)];
    }
  }

  *values() {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  /**
   * The manifest's entries against `files` (a view of the same table), in the
   * manifest's order, as [path, state, digest]: state "same" (found with the listed
   * digest; digest null, no hex made), "changed" (found, another digest) or "absent".
   */
  *against(files) {
    const t = this.table;
    for (let k = 0; k < this.size; k++) {
      const s = this.order[k];
      const path = t.paths[s];
      const found = t.flags[s] & FOUND && !files.without?.has(path);
      if (!found) yield [path, "absent", this.#digest(s)];
      else if (t.flags[s] & LISTED_AS_FOUND) yield [path, "same", null];
      else yield [path, "changed", this.#digest(s)];
    }
  }

  /** Every slot's LISTED flags cleared (before another manifest is joined). */
  static clear(table) {
    for (let s = 0; s < table.count; s++) table.flags[s] &= FOUND;
  }
}
