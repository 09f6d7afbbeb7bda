// Reading a .zip in place: the end records (zip64 too), the central
// directory, and each member's local header, all by File.slice, so a bundle
// of several GB is never held in memory. Names are read as Python's zipfile
// and custody's reader read them (UTF-8 flag, Info-ZIP Unicode path, cp437).

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const MAX_CENTRAL_DIRECTORY = 512 * 1024 * 1024;

export class ZipError extends Error {}

const read = async (file, start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer());
const view = (bytes) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const u64 = (dv, at) => dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;

// cp437's upper half, for names written without the UTF-8 flag.
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";
const cp437 = (bytes) => Array.from(bytes, (b) => (b < 128 ? String.fromCharCode(b) : CP437_HIGH[b - 128])).join("");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A member's real name (custody's reader._zip_member_name). */
function memberName(flags, raw, extra) {
  if (flags & 0x800) {
    try {
      return utf8.decode(raw);
    } catch {
      throw new ZipError("damaged zip archive (a UTF-8 flagged name is not UTF-8)");
    }
  }
  const dv = view(extra);
  for (let i = 0; i + 4 <= extra.length; ) {
    const tag = dv.getUint16(i, true);
    const size = dv.getUint16(i + 2, true);
    const body = extra.subarray(i + 4, i + 4 + size);
    if (tag === 0x7075 && body.length > 5 && body[0] === 1) {
      try {
        return utf8.decode(body.subarray(5));
      } catch {
        break;
      }
    }
    i += 4 + size;
  }
  try {
    return utf8.decode(raw);
  } catch {
    return cp437(raw);
  }
}

async function findEnd(file) {
  const size = file.size;
  if (size < 22) throw new ZipError("not a .zip archive (too short)");
  const tailStart = Math.max(0, size - 22 - 65535);
  const tail = await read(file, tailStart, size);
  const dv = view(tail);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) !== EOCD) continue;
    const commentLength = dv.getUint16(i + 20, true);
    if (i + 22 + commentLength > tail.length) continue;
    const end = {
      at: tailStart + i,
      entries: dv.getUint16(i + 10, true),
      cdSize: dv.getUint32(i + 12, true),
      cdOffset: dv.getUint32(i + 16, true),
      zip64: false,
    };
    if (i >= 20 && dv.getUint32(i - 20, true) === ZIP64_LOCATOR) {
      const recordAt = u64(dv, i - 20 + 8);
      const rec = await read(file, recordAt, recordAt + 56);
      const rv = view(rec);
      if (rec.length < 56 || rv.getUint32(0, true) !== ZIP64_EOCD) throw new ZipError("damaged zip64 end record");
      Object.assign(end, {
        entries: u64(rv, 32),
        cdSize: u64(rv, 40),
        cdOffset: u64(rv, 48),
        zip64: true,
        zip64At: recordAt,
      });
    }
    return end;
  }
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

/** The members of a zip: [{name, flags, method, compressedSize, size, crc, localOffset, mode, isDir}]. */
export async function listZip(file) {
  const end = await findEnd(file);
  // Bytes prepended to the archive (a self-extractor) shift every offset.
  const endOfCd = end.zip64 ? end.zip64At : end.at;
  const concat = endOfCd - end.cdSize - end.cdOffset;
  if (concat < 0 || end.cdSize > MAX_CENTRAL_DIRECTORY) throw new ZipError("damaged central directory");
  const start = end.cdOffset + concat;
  const cd = await read(file, start, start + end.cdSize);
  if (cd.length !== end.cdSize) throw new ZipError("truncated central directory");
  const dv = view(cd);
  const members = [];
  let i = 0;
  while (i + 46 <= cd.length) {
    if (dv.getUint32(i, true) !== CENTRAL) throw new ZipError("bad magic number for central directory");
    const flags = dv.getUint16(i + 8, true);
    const method = dv.getUint16(i + 10, true);
    const crc = dv.getUint32(i + 16, true);
    let compressedSize = dv.getUint32(i + 20, true);
    let size = dv.getUint32(i + 24, true);
    const nameLength = dv.getUint16(i + 28, true);
    const extraLength = dv.getUint16(i + 30, true);
    const commentLength = dv.getUint16(i + 32, true);
    const external = dv.getUint32(i + 38, true);
    let localOffset = dv.getUint32(i + 42, true);
    const raw = cd.subarray(i + 46, i + 46 + nameLength);
    const extra = cd.subarray(i + 46 + nameLength, i + 46 + nameLength + extraLength);
    if (i + 46 + nameLength + extraLength + commentLength > cd.length) throw new ZipError("truncated central directory");
    // zip64 extra field: the 0xFFFFFFFF fields, in order.
    const ev = view(extra);
    for (let j = 0; j + 4 <= extra.length; ) {
      const tag = ev.getUint16(j, true);
      const len = ev.getUint16(j + 2, true);
      if (tag === 0x0001) {
        let k = j + 4;
        const take = () => {
          if (k + 8 > j + 4 + len) throw new ZipError("corrupt zip64 extra field");
          const v = u64(ev, k);
          k += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      j += 4 + len;
    }
    const name = memberName(flags, raw, extra);
    members.push({
      name,
      rawName: raw.slice(),
      extraLength,
      flags,
      method,
      crc,
      compressedSize,
      size,
      localOffset: localOffset + concat,
      mode: external >>> 16,
      isDir: name.endsWith("/"),
    });
    i += 46 + nameLength + extraLength + commentLength;
  }
  return members;
}
