// One file, one reading (custody's bundle/archive_checks.py): a bundle zip is
// refused, with custody's words, when extractors would read it differently.
// Here: how a refusal names a member, which names are one path, and the sniff
// for a tar header or compressed data at the start of a zip.

export class ArchiveRefused extends Error {}

const NAME_SHOWN = 120;

export const refuse = (why) => new ArchiveRefused(`archive refused: ${why}`);

/** A member name in a refusal, as custody shows it (archive_checks.shown). */
export function shown(name) {
  const chars = Array.from(name);
  const out = chars.slice(0, NAME_SHOWN).map((ch) => {
    const code = ch.codePointAt(0);
    return code >= 0x20 && code < 0x7f && ch !== "\\" && ch !== "'" ? ch : `\\u{${code.toString(16)}}`;
  });
  return `'${out.join("")}${chars.length > NAME_SHOWN ? "..." : ""}'`;
}

// A name needing none of collision_key's rewriting: printable ASCII, no backslash,
// no empty part and no part ending in a dot or a space (so no "." part either).
const NEEDS_REWRITING = /[^\x20-\x5b\x5d-\x7e]|[. ](?:\/|$)|^\/|\/\/|\/$|^$/;

/** Names an extractor writes to one path (archive_checks.collision_key). */
export function collisionKey(name) {
  // Most names: the upper case of each character, one character each (ASCII).
  if (!NEEDS_REWRITING.test(name)) return name.toUpperCase();
  return collisionKeySlowly(name);
}

/** collisionKey for any name, part by part and character by character. */
export function collisionKeySlowly(name) {
  const parts = name
    .replaceAll("\\", "/")
    .split("/")
    .filter((p) => p !== "" && p !== ".")
    .map((p) => p.replace(/[. ]+$/, "") || p);
  return Array.from(parts.join("/"), (ch) => {
    const up = ch.toUpperCase();
    return Array.from(up).length === 1 ? up : ch;
  }).join("");
}

function clean(name) {
  while (name.startsWith("./")) name = name.slice(2);
  return name.replace(/\/+$/, "");
}

/** Member names seen so far (archive_checks.NameBook). */
export class NameBook {
  constructor() {
    // collision key -> slot; per slot the name seen and, packed in one small integer,
    // its member, whether a folder and whether its primary reading (no object each).
    this.seen = new Map();
    this.names = [];
    this.packed = [];
    this.members = 0;
  }

  add(name, isDir, ...otherReadings) {
    this.members += 1;
    this.#add(clean(name), isDir, true);
    for (const reading of otherReadings) this.#add(clean(reading), isDir, false);
  }

  #add(name, isDir, primary) {
    if (name === "" || name === ".") return;
    const key = collisionKey(name);
    const slot = this.seen.get(key);
    if (slot === undefined) {
      this.seen.set(key, this.names.length);
      this.names.push(name);
      this.packed.push(this.members * 4 + (isDir ? 2 : 0) + (primary ? 1 : 0));
      return;
    }
    const packed = this.packed[slot];
    const found = { name: this.names[slot], isDir: (packed & 2) !== 0, member: Math.floor(packed / 4), primary: (packed & 1) !== 0 };
    if (found.member === this.members) return;
    if (found.name === name && found.isDir && isDir) return;
    if (!(primary && found.primary)) {
      throw refuse(
        `two members are named ${shown(found.name)} in another extractor's reading of the names ` +
          "(zipfile and Windows Explorer read a name without the UTF-8 flag as cp437)",
      );
    }
    if (found.name === name) throw refuse(`the archive holds ${shown(name)} twice`);
    throw refuse(
      `${shown(found.name)} and ${shown(name)} are one path once extracted ` +
        "(on Windows: letter case, trailing dots or spaces; a backslash; an empty or '.' part)",
    );
  }
}

/** Does a tar header with a valid checksum start these bytes? */
export function tarHeaderAt(head) {
  if (head.length < 512 || head.subarray(0, 512).every((b) => b === 0)) return false;
  let field = head.subarray(148, 156);
  const nul = field.indexOf(0);
  if (nul >= 0) field = field.subarray(0, nul);
  const text = String.fromCharCode(...field).replace(/^ +| +$/g, "");
  if (!/^[0-7]+$/.test(text)) return false;
  const stored = parseInt(text, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : head[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** gzip, bzip2 or xz data at the start, or null. */
export function compressionOf(head) {
  const starts = (bytes) => bytes.every((b, i) => head[i] === b);
  if (starts([0x1f, 0x8b])) return "gzip";
  if (starts([0x42, 0x5a, 0x68])) return "bzip2";
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz";
  return null;
}

let CRC_TABLE = null;

/** CRC-32 of a few bytes (a member name), for the Unicode Path field. */
export function crc32(bytes) {
  if (CRC_TABLE === null) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
