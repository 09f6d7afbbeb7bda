// Files an operating system adds to any folder it shows (macOS Finder's
// .DS_Store, AppleDouble `._name` files and a Finder zip's __MACOSX/ tree, a
// volume's .Spotlight-V100, .Trashes and .fseventsd, Windows Explorer's
// Thumbs.db and desktop.ini): custody's bundle/leftovers.py, ported line for
// line. A file no manifest lists, whose name AND bytes are what the system
// writes, is set aside as an `os_leftover`; anything else stays as it was.
import * as L from "./layout.js";
import { FileMap } from "./paths.js";

export const KIND = "os_leftover";
export const MACOSX_DIR = "__MACOSX";
const DS_STORE_MAGIC = [0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31];
const APPLEDOUBLE_MAGIC = [0, 5, 0x16, 7, 0, 2, 0, 0];
const OLE_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
export const MAX_LEFTOVER_BYTES = 16 * 1024 * 1024;
const MAX_INI_BYTES = 64 * 1024;
const VOLUME_FOLDERS = new Map([
  [".Spotlight-V100", "the Spotlight index macOS keeps at the top of a volume"],
  [".Trashes", "the Trash macOS keeps at the top of a volume"],
  [".fseventsd", "the file-event log macOS keeps at the top of a volume"],
]);
const FINDER = "added by macOS Finder; not part of the evidence";
const FINDER_COMPRESS = "added by macOS Finder's Compress; not part of the evidence";
const EXPLORER = "added by Windows Explorer; not part of the evidence";

const startsWith = (data, magic) => data.length >= magic.length && magic.every((b, i) => data[i] === b);

/** Could this path be a leftover (by its name alone)? Its bytes are then kept. */
export function candidate(path) {
  // Asked of every file: answered without splitting the path or making pieces of it.
  const at = path.lastIndexOf("/") + 1;
  const named = (name) => path.length - at === name.length && path.endsWith(name);
  const under = (top) => path.startsWith(top) && (path.length === top.length || path[top.length] === "/");
  return (
    named(".DS_Store") ||
    named("Thumbs.db") ||
    named("desktop.ini") ||
    path.startsWith("._", at) ||
    under(".Spotlight-V100") ||
    under(".Trashes") ||
    under(".fseventsd") ||
    under(MACOSX_DIR)
  );
}

function isIni(data) {
  if (data.length > MAX_INI_BYTES) return false;
  let text;
  try {
    if (startsWith(data, [0xff, 0xfe])) text = new TextDecoder("utf-16le", { fatal: true }).decode(data);
    else if (startsWith(data, [0xfe, 0xff])) text = new TextDecoder("utf-16be", { fatal: true }).decode(data);
    else text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    return false;
  }
  const lines = text
    .split("\n")
    .map((line) => line.replace(/^[ \t\r]+|[ \t\r]+$/g, ""))
    .filter((line) => line !== "");
  const section = (line) => line.startsWith("[") && line.endsWith("]");
  if (lines.length === 0 || !section(lines[0])) return false;
  return lines.every((line) => section(line) || line.startsWith(";") || line.includes("="));
}

/** Why `path` (with these bytes; undefined when not kept) is a leftover, or null. */
export function classify(path, data, beside) {
  const parts = path.split("/");
  const name = parts[parts.length - 1];
  if (parts.length > 1 && VOLUME_FOLDERS.has(parts[0])) {
    return `inside ${parts[0]}, ${VOLUME_FOLDERS.get(parts[0])}; not part of the evidence`;
  }
  if (data === undefined || data === null || data.length > MAX_LEFTOVER_BYTES) return null;
  if (name === ".DS_Store" && startsWith(data, DS_STORE_MAGIC)) return `folder view settings ${FINDER}`;
  if (name === "Thumbs.db" && startsWith(data, OLE_MAGIC)) return `thumbnail cache ${EXPLORER}`;
  if (name === "desktop.ini" && isIni(data)) return `folder view settings ${EXPLORER}`;
  if (name.startsWith("._") && name.length > 2 && startsWith(data, APPLEDOUBLE_MAGIC)) {
    const described = [...parts.slice(0, -1), name.slice(2)].join("/");
    if (parts[0] === MACOSX_DIR) {
      const inner = described.includes("/") ? described.slice(described.indexOf("/") + 1) : "";
      return beside(inner) ? `resource fork of a zip member, ${FINDER_COMPRESS}` : null;
    }
    if (beside(described)) return `resource fork of ${name.slice(2)}, ${FINDER}`;
  }
  return null;
}

/** `beside` for a set of file paths: is `p` one of them, or a folder of one? */
export function within(names) {
  const folders = new Set();
  for (let name of names) {
    while (name.includes("/")) {
      name = name.slice(0, name.lastIndexOf("/"));
      if (folders.has(name)) break;
      folders.add(name);
    }
  }
  return (p) => names.has(p) || folders.has(p);
}

const byUtf16 = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** [the scan without the leftovers no manifest lists, the leftovers]. Only the
 * files whose names may be leftovers are looked at; the others stay as they are. */
export function setAside(scan, listed) {
  let beside = null;
  const lazyBeside = (p) => {
    beside ??= within(new Set([...scan.files.keys(), ...scan.oddPaths]));
    return beside(p);
  };
  const found = scan.problems.filter((p) => p.kind === KIND);
  const gone = new Set();
  for (const path of scan.files.keys()) {
    if (!candidate(path) || listed.has(path) || L.REQUIRED_TAG_FILES.includes(path)) continue;
    const why = classify(path, scan.tagBytes.get(path), lazyBeside);
    if (why !== null) {
      gone.add(path);
      found.push({ kind: KIND, path, detail: why });
    }
  }
  if (gone.size === 0 && found.length === 0) return [scan, []];
  const files = scan.files instanceof FileMap ? scan.files.less(gone) : new Map([...scan.files].filter(([p]) => !gone.has(p)));
  const tagBytes = new Map([...scan.tagBytes].filter(([p]) => !gone.has(p)));
  const problems = scan.problems.filter((p) => p.kind !== KIND);
  found.sort((a, b) => byUtf16(a.path, b.path));
  return [{ ...scan, files, tagBytes, problems }, found];
}

/** The line beside the verdict (render/bundles.py _leftovers_line). */
export function leftoversLine(n) {
  const [files, are] = n === 1 ? ["file", "is"] : ["files", "are"];
  return `${n} ${files} added by macOS Finder or Windows Explorer (listed below) ${are} not part of the evidence; the verdict is about the evidence without them`;
}
