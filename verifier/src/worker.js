// One hashing worker (the page starts one per core). It reads a file, or a
// zip member's bytes, by slices or as a stream, and returns its SHA-256:
// WebCrypto's one-shot digest for files that fit comfortably in memory
// (it uses the CPU's SHA instructions), hash-wasm's streaming SHA-256 above
// that, so memory stays flat whatever the size.
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { createCRC32, createSHA256 } from "hash-wasm";

const ONE_SHOT_MAX = 32 * 1024 * 1024;
const PIECE = 8 * 1024 * 1024;
const PROGRESS_EVERY = 16 * 1024 * 1024;
const hexOf = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

// Several files are read at once (small files wait on I/O, not the CPU), so a
// streaming job owns its hashers until it ends; `shared` serves the small
// files, which use it without yielding between init and digest.
const free = [];
let shared = null;
async function newHashers() {
  try {
    const [sha, crc] = await Promise.all([createSHA256(), createCRC32()]);
    return { sha, crc };
  } catch {
    // A browser that refuses WebAssembly under the page's CSP: the same
    // digests in plain JavaScript, slower but the same answer.
    return { sha: jsSha256(), crc: jsCrc32() };
  }
}
async function sharedHashers() {
  shared ??= await newHashers();
  return shared;
}
const acquire = async () => free.pop() ?? (await newHashers());
const release = (pair) => free.push(pair);

function jsSha256() {
  let h = null;
  return {
    init: () => {
      h = nobleSha256.create();
    },
    update: (bytes) => h.update(bytes),
    digest: () => Array.from(h.digest(), (b) => b.toString(16).padStart(2, "0")).join(""),
  };
}

let CRC_TABLE = null;
function jsCrc32() {
  if (CRC_TABLE === null) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0;
  return {
    init: () => {
      c = 0xffffffff;
    },
    update: (bytes) => {
      for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    },
    digest: () => ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0"),
  };
}

async function oneShot(bytes) {
  if (globalThis.crypto?.subtle) return hexOf(await crypto.subtle.digest("SHA-256", bytes));
  const { sha } = await sharedHashers();
  sha.init();
  sha.update(bytes);
  return sha.digest("hex");
}

/** A run's small members are hashed here, with no promise or buffer each (WebCrypto's
 * call costs more than the hashing of a few KiB). */
const SMALL_IN_RUN = 16 * 1024;
async function inPlace(bytes) {
  const { sha } = await sharedHashers();
  sha.init();
  sha.update(bytes);
  return sha.digest("hex");
}

class Unreadable extends Error {}

async function* pieces(job) {
  const { blob, offset, compressedSize, method } = job;
  const end = offset + compressedSize;
  if (method === 0) {
    // Stored: slices, one read ahead while the last is hashed.
    let at = offset;
    let next = at < end ? blob.slice(at, Math.min(end, at + PIECE)).arrayBuffer() : null;
    while (next !== null) {
      const buf = await next;
      at += buf.byteLength;
      if (buf.byteLength === 0) throw new Unreadable("the file ended early");
      next = at < end ? blob.slice(at, Math.min(end, at + PIECE)).arrayBuffer() : null;
      yield new Uint8Array(buf);
    }
    return;
  }
  if (method !== 8) throw new Unreadable(`compression method ${method} is not supported`);
  const stream = blob.slice(offset, end).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } catch (e) {
    throw new Unreadable(`damaged compressed data (${e.message || e})`);
  }
}

const LOCAL = 0x04034b50;

const encoder = new TextEncoder();
const scratch = new Uint8Array(3 * 65536);
/** A member's name as the directory holds it: its UTF-8 bytes (the page read it as
 * strict UTF-8), valid until the next call. */
const rawNameOf = (member) => member.rawName ?? scratch.subarray(0, encoder.encodeInto(member.name, scratch).written);

/** A zip member's local header, checked against the central directory's name;
 * returns where its data starts. `head` holds the header's first bytes. */
function localDataOffset(head, member) {
  const rawName = rawNameOf(member);
  const want = 30 + rawName.length;
  if (head.length < want) throw new Unreadable("truncated file header");
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint32(0, true) !== LOCAL) throw new Unreadable("bad magic number for file header");
  const nameLength = dv.getUint16(26, true);
  const extraLength = dv.getUint16(28, true);
  const name = head.subarray(30, 30 + nameLength);
  if (nameLength !== rawName.length || name.some((b, k) => b !== rawName[k])) {
    throw new Unreadable("file name in directory and header differ");
  }
  return member.localOffset + 30 + nameLength + extraLength;
}

/** For a zip member: its data offset, and the data itself when one read of
 * header and data (with some slack for the local extra field) got it all. */
async function locate(job) {
  const m = job.member;
  const ahead = job.prefetched; // a run's region from this member's local header on (answerRun)
  if (ahead !== undefined && ahead.length >= 30) {
    const dv = new DataView(ahead.buffer, ahead.byteOffset, ahead.byteLength);
    const at = 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
    if (at + job.compressedSize <= ahead.length) {
      const offset = localDataOffset(ahead, m);
      return { offset, data: ahead.subarray(at, at + job.compressedSize) };
    }
  }
  const guess = 30 + (m.nameLength ?? m.rawName.length) + m.extraLength + 256;
  const small = job.method === 0 && job.compressedSize <= ONE_SHOT_MAX;
  const end = m.localOffset + guess + (small ? job.compressedSize : 0);
  const head = new Uint8Array(await job.blob.slice(m.localOffset, end).arrayBuffer());
  const offset = localDataOffset(head, m);
  const at = offset - m.localOffset;
  const data = small && at + job.compressedSize <= head.length ? head.subarray(at, at + job.compressedSize) : null;
  return { offset, data };
}

async function hashJob(job) {
  const { id, expectedSize, wantBytes, checkCrc } = job;
  let ready = null;
  if (job.member) {
    const found = await locate(job);
    job.offset = found.offset;
    ready = found.data;
  }
  if (ready !== null && job.method !== 0) {
    // A deflated member already read with its run: inflated from memory.
    job.blob = new Blob([ready]);
    job.offset = 0;
    ready = null;
  }
  const small = job.method === 0 && expectedSize <= ONE_SHOT_MAX;
  if (small) {
    let buf = ready;
    if (buf === null) buf = new Uint8Array(await job.blob.slice(job.offset, job.offset + expectedSize).arrayBuffer());
    if (buf.length !== expectedSize) throw new Unreadable("the file ended early");
    if (checkCrc) {
      const { crc } = await sharedHashers();
      crc.init();
      crc.update(buf);
      if (parseInt(crc.digest("hex"), 16) !== job.crc) throw new Unreadable("Bad CRC-32");
    }
    const sha256 = job.prefetched !== undefined && buf.length <= SMALL_IN_RUN ? await inPlace(buf) : await oneShot(buf);
    return { id, sha256, size: buf.length, bytes: wantBytes ? buf : null };
  }
  const pair = await acquire();
  try {
    return await streamJob(job, pair);
  } finally {
    release(pair);
  }
}

async function streamJob(job, { sha, crc }) {
  const { id, expectedSize, wantBytes, checkCrc } = job;
  sha.init();
  if (checkCrc) crc.init();
  let size = 0;
  let reported = 0;
  const kept = [];
  for await (const piece of pieces(job)) {
    size += piece.length;
    if (size > expectedSize) throw new Unreadable("more data than the archive says");
    sha.update(piece);
    if (checkCrc) crc.update(piece);
    if (wantBytes) kept.push(piece.slice());
    if (size - reported >= PROGRESS_EVERY) {
      globalThis.postMessage?.({ id, progress: size - reported }); // none when Node runs it in-process
      reported = size;
    }
  }
  if (size !== expectedSize) throw new Unreadable("the data ended early");
  if (checkCrc && parseInt(crc.digest("hex"), 16) !== job.crc) throw new Unreadable("Bad CRC-32");
  let bytes = null;
  if (wantBytes) {
    bytes = new Uint8Array(size);
    let at = 0;
    for (const k of kept) {
      bytes.set(k, at);
      at += k.length;
    }
  }
  return { id, sha256: sha.digest("hex"), size, bytes, reported };
}

/** One job's answer, as the page's pool receives it: {id, sha256, size, bytes}
 * or {id, error}. Exported so that Node can run the same hashing in-process
 * (verifier/test/, over the shared vectors in tests/vectors/). */
export async function answer(job) {
  try {
    return await hashJob(job);
  } catch (e) {
    return { id: job.id, error: e instanceof Unreadable ? e.message : `read error (${e.message || e})` };
  }
}

/** A run of zip members, small and near one another: their region read with one
 * slice, then each member answered from it exactly as `answer` answers it alone
 * (a member the region does not hold whole is read alone). {id, results, size}. */
export async function answerRun(job) {
  const { id, blob, start, end, members } = job;
  let region = null;
  try {
    region = new Uint8Array(await blob.slice(start, end).arrayBuffer());
  } catch {
    // Each member is then read alone, and fails alone.
  }
  const results = [];
  let size = 0;
  for (const m of members) {
    const from = m.member.localOffset - start;
    const prefetched = region !== null && from >= 0 && from < region.length ? region.subarray(from) : undefined;
    const r = await answer({ ...m, blob, prefetched });
    // A tag file's bytes are its own buffer, not a view of the region.
    if (r.bytes && r.bytes.byteLength !== r.bytes.buffer.byteLength) r.bytes = r.bytes.slice();
    if (r.size !== undefined) size += r.size;
    results.push(r);
  }
  return { id, results, size };
}

// globalThis: in the worker it is the worker's scope; imported by Node, a plain object property.
globalThis.onmessage = async (event) => {
  if (event.data.members !== undefined) {
    const result = await answerRun(event.data);
    postMessage(result, result.results.filter((r) => r.bytes).map((r) => r.bytes.buffer));
    return;
  }
  const result = await answer(event.data);
  postMessage(result, result.bytes ? [result.bytes.buffer] : []);
};
