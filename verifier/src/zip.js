// Reading a .zip in place: the end records (zip64 too), the central
// directory, and each member's local header, all by File.slice, so a bundle
// of several GB is never held in memory. A zip is read only when it has one
// reading, checked with custody's rules and words (bundle/archive_zip_check.py):
// members back to back from offset 0, local headers that agree with the
// directory, Unicode Path fields that only repeat the plain name, no two
// members that are one path in any extractor's reading.
import { NameBook, compressionOf, crc32, refuse, shown, tarHeaderAt } from "./readings.js";

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const MAX_CENTRAL_DIRECTORY = 512 * 1024 * 1024;

export class ZipError extends Error {}
export { ArchiveRefused } from "./readings.js";

const read = async (file, start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer());
const view = (bytes) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const u64 = (dv, at) => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;

// cp437's upper half, for names written without the UTF-8 flag.
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";
const cp437 = (bytes) => Array.from(bytes, (b) => (b < 128 ? String.fromCharCode(b) : CP437_HIGH[b - 128])).join("");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

async function refuseCutShort(file) {
  // Zip members but no end record: a zip cut short (archive_checks.check_archive).
  const head = await read(file, 0, 4);
  if (head.length === 4 && view(head).getUint32(0, true) === 0x04034b50) {
    throw new ZipError("damaged or truncated zip (no central directory)");
  }
}

/** Is there an end record, as Python's zipfile.is_zipfile finds one: the last
 * end-record signature in the file's last 64 KiB, with its 22 bytes there?
 * (What custody then refuses, the page refuses in the same words.) */
async function findEnd(file) {
  const size = file.size;
  if (size < 22) {
    await refuseCutShort(file);
    throw new ZipError("not a .zip archive (too short)");
  }
  const tailStart = Math.max(0, size - 22 - 65535);
  const tail = await read(file, tailStart, size);
  const dv = view(tail);
  for (let i = tail.length - 4; i >= 0; i--) {
    if (dv.getUint32(i, true) !== EOCD) continue;
    if (i + 22 <= tail.length) return;
    break;
  }
  await refuseCutShort(file);
  throw new ZipError("not a .zip archive; a .tar or .tar.gz is not read here: give the folder, or check it with custody verify");
}

/** Is this file a zip archive? (the end record is there) */
export async function isZip(file) {
  try {
    await findEnd(file);
    return true;
  } catch {
    return false;
  }
}

const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
const U32 = 0xffffffff;
const U16 = 0xffff;
const latin1 = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
const sameBytes = (a, b) => a.length === b.length && a.every((x, k) => x === b[k]);

/** Extra fields by tag; a malformed list or a repeated tag is refused. */
function extraFields(extra, where) {
  const fields = new Map();
  const dv = view(extra);
  for (let i = 0; i < extra.length; ) {
    if (i + 4 > extra.length) throw refuse(`a malformed extra field in ${where}`);
    const tag = dv.getUint16(i, true);
    const size = dv.getUint16(i + 2, true);
    if (i + 4 + size > extra.length || fields.has(tag)) throw refuse(`a malformed extra field in ${where}`);
    fields.set(tag, extra.subarray(i + 4, i + 4 + size));
    i += 4 + size;
  }
  return fields;
}

/** Values stored as 0xFFFFFFFF, taken in order from the zip64 extra field. */
function zip64Values(fields, wanted, where) {
  const body = fields.get(0x0001) ?? new Uint8Array(0);
  let at = 0;
  return wanted.map((value) => {
    if (value !== U32) return value;
    if (at + 8 > body.length) throw refuse(`a zip64 field is missing in ${where}`);
    const v = u64(view(body), at);
    at += 8;
    return v;
  });
}

/** A member's name, then its other readings (archive_zip_check._member_name). */
function memberNames(raw, flags, fields) {
  let name;
  try {
    name = utf8.decode(raw);
  } catch {
    throw refuse(`zip member name ${shown(cp437(raw))} is not UTF-8, so extractors decode it differently`);
  }
  const readings = [name];
  if (!(flags & 0x800) && raw.some((b) => b > 0x7f)) readings.push(cp437(raw));
  const unicodePath = fields.get(0x7075);
  if (unicodePath !== undefined) {
    if (unicodePath.length < 5 || unicodePath[0] !== 1 || view(unicodePath).getUint32(1, true) !== crc32(raw)) {
      throw refuse(
        `zip member ${shown(name)}: its Unicode Path field (0x7075) does not match the CRC-32 of its plain ` +
          "name, so unzip and other extractors name it differently",
      );
    }
    if (!sameBytes(unicodePath.subarray(5), raw)) {
      throw refuse(`zip member ${shown(name)}: its Unicode Path field (0x7075) names it differently from its plain name`);
    }
  }
  return readings;
}

const KNOWN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x800;

/** Stored or deflated, zip 4.5 at most, no flags extractors treat differently
 * (archive_zip_check._check_features). */
function checkFeatures(where, needed, flags, method) {
  if (needed > 45) {
    throw refuse(`${where} needs zip version ${Math.floor(needed / 10)}.${needed % 10} to extract, more than every extractor reads`);
  }
  if (method !== 0 && method !== 8) throw refuse(`${where} uses compression method ${method}, which not every extractor reads`);
  if (flags & ~KNOWN_FLAGS) throw refuse(`${where} has flags 0x${flags.toString(16).padStart(4, "0")} that extractors treat differently`);
}

/** (entries, central directory offset, where it must end): archive_zip_check._end_records. */
async function endRecords(file) {
  const size = file.size;
  const tailStart = Math.max(0, size - 22 - 0xffff);
  const tail = await read(file, tailStart, size);
  const dv = view(tail);
  let at = -1;
  for (let i = tail.length - 4; i >= 0; i--) {
    if (dv.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0 || at + 22 > tail.length) throw refuse("the zip's end record cannot be found");
  const disk = dv.getUint16(at + 4, true);
  const cdDisk = dv.getUint16(at + 6, true);
  const here = dv.getUint16(at + 8, true);
  const entries = dv.getUint16(at + 10, true);
  const cdSize = dv.getUint32(at + 12, true);
  const cdOffset = dv.getUint32(at + 16, true);
  const comment = dv.getUint16(at + 20, true);
  if (at + 22 + comment !== tail.length) throw refuse("bytes after the zip's end record");
  const endAt = tailStart + at;
  if (at >= 20 && dv.getUint32(at - 20, true) === ZIP64_LOCATOR) {
    const locatorAt = endAt - 20;
    const z64Disk = dv.getUint32(at - 16, true);
    const recordAt = u64(dv, at - 12);
    const disks = dv.getUint32(at - 4, true);
    if (z64Disk !== 0 || disks !== 1) throw refuse("a multi-disk zip");
    const record = await read(file, recordAt, recordAt + 56);
    const rv = view(record);
    if (record.length < 56 || rv.getUint32(0, true) !== ZIP64_EOCD) {
      throw refuse("the zip64 end record is not where its locator points");
    }
    if (recordAt + 12 + u64(rv, 4) !== locatorAt) throw refuse("bytes between the zip64 end record and its locator");
    const [disk64, cdDisk64, here64, entries64, cdSize64, cdOffset64] = [
      rv.getUint32(16, true),
      rv.getUint32(20, true),
      u64(rv, 24),
      u64(rv, 32),
      u64(rv, 40),
      u64(rv, 48),
    ];
    if (disk64 || cdDisk64 || here64 !== entries64) throw refuse("a multi-disk zip");
    for (const [small, big, limit] of [
      [entries, entries64, U16],
      [here, entries64, U16],
      [cdSize, cdSize64, U32],
      [cdOffset, cdOffset64, U32],
    ]) {
      if (small !== big && small !== limit) throw refuse("the zip's end record and zip64 end record disagree");
    }
    if (cdOffset64 + cdSize64 !== recordAt) {
      throw refuse(
        "the central directory does not end where the zip64 end record starts (bytes prepended to or inside the zip)",
      );
    }
    return { entries: entries64, cdOffset: cdOffset64, cdEnd: recordAt };
  }
  if (disk || cdDisk || here !== entries) throw refuse("a multi-disk zip");
  if (entries === U16 || cdSize === U32 || cdOffset === U32) {
    throw refuse("zip64 values in the end record without a zip64 end record");
  }
  if (cdOffset + cdSize !== endAt) {
    throw refuse("the central directory does not end where the end record starts (bytes prepended to or inside the zip)");
  }
  return { entries, cdOffset, cdEnd: endAt };
}

/**
 * The members of a zip, kept flat: one name string per member and its numbers in
 * typed arrays (about 60 bytes a member beside its name), never an object per member.
 * `get(i)` gives member i as the object the rest of the page reads.
 */
export class MemberTable {
  constructor() {
    this.length = 0;
    this.names = [];
    this.capacity = 0;
    this.grow(1024);
  }

  grow(capacity) {
    const widen = (Kind, old) => {
      const next = new Kind(capacity);
      if (old) next.set(old.subarray(0, this.length));
      return next;
    };
    this.sizes = widen(Float64Array, this.sizes);
    this.compressedSizes = widen(Float64Array, this.compressedSizes);
    this.localOffsets = widen(Float64Array, this.localOffsets);
    this.crcs = widen(Uint32Array, this.crcs);
    this.modes = widen(Uint32Array, this.modes);
    this.flagsOf = widen(Uint16Array, this.flagsOf);
    this.methods = widen(Uint16Array, this.methods);
    this.extraLengths = widen(Uint16Array, this.extraLengths);
    this.capacity = capacity;
  }

  push(m) {
    if (this.length === this.capacity) this.grow(this.capacity * 2);
    const i = this.length++;
    this.names.push(m.name);
    this.sizes[i] = m.size;
    this.compressedSizes[i] = m.compressedSize;
    this.localOffsets[i] = m.localOffset;
    this.crcs[i] = m.crc;
    this.modes[i] = m.mode;
    this.flagsOf[i] = m.flags;
    this.methods[i] = m.method;
    this.extraLengths[i] = m.extraLength;
  }

  /** Member i as {name, rawName, extraLength, flags, method, crc, compressedSize, size, localOffset, mode, isDir}
   * (rawName: a name that decoded as strict UTF-8 is exactly its UTF-8 encoding; written
   * into `scratch` when one is given, so valid only until the next call with it). */
  get(i, scratch = null) {
    const name = this.names[i];
    return {
      name,
      rawName: scratch === null ? encoder.encode(name) : scratch.subarray(0, encoder.encodeInto(name, scratch).written),
      extraLength: this.extraLengths[i],
      flags: this.flagsOf[i],
      method: this.methods[i],
      crc: this.crcs[i],
      compressedSize: this.compressedSizes[i],
      size: this.sizes[i],
      localOffset: this.localOffsets[i],
      mode: this.modes[i],
      isDir: name.endsWith("/"),
    };
  }

  /** Member indexes in the order of their local headers (the directory's order when
   * it is already that; ties kept in the directory's order, as a stable sort does). */
  byOffset() {
    let sorted = true;
    for (let i = 1; i < this.length && sorted; i++) sorted = this.localOffsets[i - 1] <= this.localOffsets[i];
    const order = Array.from({ length: this.length }, (_, i) => i);
    return sorted ? order : order.sort((a, b) => this.localOffsets[a] - this.localOffsets[b]);
  }
}

const encoder = new TextEncoder();
/** Room for any member's name in UTF-8 (at most 65,535 bytes, as it was read). */
export const NAME_SCRATCH = 3 * 65536;
/** Local headers are read in windows of this size. */
const HEADER_WINDOW = 256 * 1024;
/** The central directory is read in slices of this size, never whole. */
export const DIRECTORY_SLICE = 1024 * 1024;

/** The central directory, read in slices and checked record by record as one
 * reading of it whole would be (archive_zip_check._central_directory). */
async function centralDirectory(file, { entries, cdOffset, cdEnd }, slice = DIRECTORY_SLICE) {
  if (cdOffset > cdEnd) throw refuse("the central directory does not end where the end record starts");
  if (cdEnd - cdOffset > MAX_CENTRAL_DIRECTORY) throw new ZipError("damaged central directory");
  const names = new NameBook();
  const members = new MemberTable();
  let cd = new Uint8Array(0); // the directory's bytes from `base` on, read so far
  let base = cdOffset;
  let i = 0; // where the next record starts in `cd`
  const have = async (n) => {
    // At least n bytes from i in `cd`, or as many as the directory still holds.
    if (cd.length - i >= n || base + cd.length >= cdEnd) return;
    const from = base + cd.length;
    const more = await read(file, from, Math.min(cdEnd, from + Math.max(slice, n - (cd.length - i))));
    const next = new Uint8Array(cd.length - i + more.length);
    next.set(cd.subarray(i));
    next.set(more, cd.length - i);
    base += i;
    cd = next;
    i = 0;
  };
  while (base + i < cdEnd) {
    await have(46);
    const left = cdEnd - (base + i);
    let dv = view(cd);
    if (46 > left || cd.length - i < 46 || dv.getUint32(i, true) !== CENTRAL) {
      throw refuse("the central directory does not end where the end record starts");
    }
    const n = dv.getUint16(i + 28, true);
    const m = dv.getUint16(i + 30, true);
    const k = dv.getUint16(i + 32, true);
    if (46 + n + m + k > left) throw refuse("the central directory is cut short");
    await have(46 + n + m + k);
    dv = view(cd);
    const flags = dv.getUint16(i + 8, true);
    const method = dv.getUint16(i + 10, true);
    const crc = dv.getUint32(i + 16, true);
    const disk = dv.getUint16(i + 34, true);
    const external = dv.getUint32(i + 38, true);
    const raw = cd.subarray(i + 46, i + 46 + n);
    const extra = cd.subarray(i + 46 + n, i + 46 + n + m);
    const where = `zip member ${shown(latin1(raw))}`;
    const fields = extraFields(extra, where);
    const [size, compressedSize, localOffset] = zip64Values(
      fields,
      [dv.getUint32(i + 24, true), dv.getUint32(i + 20, true), dv.getUint32(i + 42, true)],
      where,
    );
    if (disk !== 0 && disk !== U16) throw refuse("a multi-disk zip");
    checkFeatures(where, dv.getUint16(i + 6, true), flags, method);
    const [name, ...readings] = memberNames(raw, flags, fields);
    names.add(name, name.endsWith("/"), ...readings);
    members.push({ name, extraLength: m, flags, method, crc, compressedSize, size, localOffset, mode: external >>> 16 });
    i += 46 + n + m + k;
  }
  if (members.length !== entries) {
    throw refuse(`the end record counts ${entries} members, the central directory ${members.length}`);
  }
  return members;
}

/** A member's local header checked against the directory; where its data
 * (and data descriptor) end (archive_zip_check._check_local). */
async function checkLocal(file, entry, prefetched) {
  const where = `zip member ${shown(entry.name)}`;
  let head = prefetched;
  if (head.length < 30) head = await read(file, entry.localOffset, entry.localOffset + 30);
  const hv = view(head);
  if (head.length < 30 || hv.getUint32(0, true) !== LOCAL) {
    throw refuse(`${where}: no local header where the central directory points`);
  }
  const needed = hv.getUint16(4, true);
  const flags = hv.getUint16(6, true);
  const method = hv.getUint16(8, true);
  let crc = hv.getUint32(14, true);
  let compressedSize = hv.getUint32(18, true);
  let size = hv.getUint32(22, true);
  const n = hv.getUint16(26, true);
  const m = hv.getUint16(28, true);
  if (head.length < 30 + n + m) head = await read(file, entry.localOffset, entry.localOffset + 30 + n + m);
  const raw = head.subarray(30, Math.min(head.length, 30 + n));
  const extra = head.subarray(30 + raw.length, Math.min(head.length, 30 + n + m));
  if (extra.length < m) throw refuse(`${where}: its local header is cut short`);
  if (needed > 45) checkFeatures(where, needed, entry.flags, entry.method);
  const disagree = [];
  const nameSame = sameBytes(raw, entry.rawName);
  if (!nameSame) disagree.push("name");
  if (flags !== entry.flags) disagree.push("flags");
  if (method !== entry.method) disagree.push("compression method");
  const fields = extraFields(extra, where);
  if (nameSame) memberNames(raw, flags, fields);
  let dataEnd = entry.localOffset + 30 + n + m + entry.compressedSize;
  if (flags & 0x8) {
    const zip64 = fields.has(0x0001);
    let d = await read(file, dataEnd, dataEnd + (zip64 ? 24 : 16));
    if (d.length >= 4 && view(d).getUint32(0, true) === DESCRIPTOR) {
      d = d.subarray(4);
      dataEnd += 4;
    } else d = d.subarray(0, zip64 ? 20 : 12);
    const length = zip64 ? 20 : 12;
    if (d.length < length) throw refuse(`${where}: its data descriptor is cut short`);
    const dv = view(d);
    const found = zip64 ? [dv.getUint32(0, true), u64(dv, 4), u64(dv, 12)] : [0, 4, 8].map((o) => dv.getUint32(o, true));
    dataEnd += length;
    const local = [crc, compressedSize, size];
    if (local.some((v) => v !== 0) && local.some((v, j) => v !== found[j])) {
      const [sizeL, compL] = zip64Values(fields, [size, compressedSize], where);
      if (crc !== found[0] || compL !== found[1] || sizeL !== found[2]) disagree.push("CRC-32 or sizes");
    }
    [crc, compressedSize, size] = found;
  } else {
    [size, compressedSize] = zip64Values(fields, [size, compressedSize], where);
  }
  if (crc !== entry.crc) disagree.push("CRC-32");
  if (compressedSize !== entry.compressedSize || size !== entry.size) disagree.push("sizes");
  if (disagree.length) {
    throw refuse(`${where}: its local header and the central directory disagree on ${[...new Set(disagree)].join(", ")}`);
  }
  return dataEnd;
}

/**
 * The members of a zip, a MemberTable (its `get(i)`: {name, flags, method, compressedSize, size, crc,
 * localOffset, mode, isDir}),
 * once the zip is known to have one reading (custody's archive_checks.check_archive):
 * nothing but its members, back to back from offset 0, then the directory and end records.
 */
export async function listZip(file, { slice = DIRECTORY_SLICE } = {}) {
  await findEnd(file); // "not a .zip archive" as before, when there is no end record
  const head = await read(file, 0, 512);
  const tar = tarHeaderAt(head);
  const compressed = compressionOf(head);
  if (tar || compressed !== null) {
    const what = tar ? "a tar" : `${compressed} data`;
    throw refuse(`it is both ${what} and a zip archive, and extractors would show different bundles`);
  }
  const end = await endRecords(file);
  const members = await centralDirectory(file, end, slice);
  const order = members.byOffset();
  // The local headers in the file's order, read a window at a time (members of a
  // few hundred bytes share one slice; a large member's header gets its own).
  let expected = 0;
  let window = new Uint8Array(0);
  let windowStart = 0;
  const scratch = new Uint8Array(NAME_SCRATCH);
  for (const index of order) {
    const entry = members.get(index, scratch);
    if (entry.localOffset !== expected) {
      let why;
      if (expected === 0) why = `${entry.localOffset} bytes before the first zip member (prepended data, or a self-extracting stub)`;
      else if (entry.localOffset < expected) why = `zip member ${shown(entry.name)} overlaps the member before it`;
      else why = `${entry.localOffset - expected} bytes between zip members before ${shown(entry.name)}`;
      throw refuse(why);
    }
    const need = 30 + entry.rawName.length + entry.extraLength + 64;
    const from = entry.localOffset - windowStart;
    if (from < 0 || from + need > window.length) {
      window = await read(file, entry.localOffset, entry.localOffset + Math.max(HEADER_WINDOW, need));
      windowStart = entry.localOffset;
    }
    expected = await checkLocal(file, entry, window.subarray(entry.localOffset - windowStart));
  }
  if (expected !== end.cdOffset) {
    throw refuse(
      expected < end.cdOffset
        ? `${end.cdOffset - expected} bytes between the last zip member and the central directory`
        : "the last zip member runs into the central directory",
    );
  }
  return members;
}
