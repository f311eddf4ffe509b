/**
 * A folder as one gzip'd, length-prefixed stream of its files (fanout's dependency archive),
 * and back. Our own format rather than tar: the worker must unpack it where there may be no
 * /usr/bin/tar (Lambda's image), and a tar library would add to every worker's cold start for
 * the three entry kinds node_modules needs. Entries are sorted and carry no times or owners,
 * so the same files always make the same bytes and the sha256 of the raw (unzipped) stream
 * names what the archive holds, whatever zlib compresses it to.
 *
 *   "FANOUTPK1\n", then per entry: u8 kind (0 file, 1 executable file, 2 symlink),
 *   u16 path length, path (UTF-8, "/"-separated, relative), u32 length, content (or link target)
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";

const MAGIC = Buffer.from("FANOUTPK1\n");
const FILE = 0;
const EXEC = 1;
const LINK = 2;

/** A packed folder: the gzip'd stream, the sha256 of the raw stream, and the bytes it unpacks to. */
export interface PackedFolder {
  gz: Buffer;
  sha256: string;
  /** Total size of the files (and link targets) once unpacked. */
  unpackedBytes: number;
}

/** Pack every file and symlink under `dir` (sorted, times and owners left out). */
export function packFolder(dir: string): PackedFolder {
  const parts: Buffer[] = [MAGIC];
  let unpackedBytes = 0;
  for (const rel of listFiles(dir)) {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    const kind = st.isSymbolicLink() ? LINK : st.mode & 0o111 ? EXEC : FILE;
    const body = kind === LINK ? Buffer.from(fs.readlinkSync(abs)) : fs.readFileSync(abs);
    const name = Buffer.from(rel.split(path.sep).join("/"));
    const head = Buffer.alloc(3);
    head.writeUInt8(kind, 0);
    head.writeUInt16BE(name.length, 1);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length, 0);
    parts.push(head, name, len, body);
    unpackedBytes += body.length;
  }
  const raw = Buffer.concat(parts);
  return { gz: gzipSync(raw), sha256: createHash("sha256").update(raw).digest("hex"), unpackedBytes };
}

/** The raw stream of a packed folder and its sha256, for a check before anything is written. */
export function openPacked(gz: Buffer): { raw: Buffer; sha256: string } {
  const raw = gunzipSync(gz);
  return { raw, sha256: createHash("sha256").update(raw).digest("hex") };
}

/** Write the entries of raw stream `raw` under `dir` (which must not hold other files). */
export function unpackInto(raw: Buffer, dir: string): void {
  if (!raw.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error("not a fanout archive (bad header)");
  let at = MAGIC.length;
  const root = path.resolve(dir);
  while (at < raw.length) {
    const kind = raw.readUInt8(at);
    const nameLen = raw.readUInt16BE(at + 1);
    const name = raw.toString("utf8", at + 3, at + 3 + nameLen);
    at += 3 + nameLen;
    const len = raw.readUInt32BE(at);
    const body = raw.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    const file = path.resolve(root, name);
    // Only inside `dir`: a name with ".." or an absolute path is a broken archive.
    if (!file.startsWith(root + path.sep)) throw new Error(`archive entry ${JSON.stringify(name)} points outside the folder`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (kind === LINK) fs.symlinkSync(body.toString("utf8"), file);
    else fs.writeFileSync(file, body, { mode: kind === EXEC ? 0o755 : 0o644 });
  }
}

/** Relative paths of the files and symlinks under `dir`, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() || e.isSymbolicLink()) out.push(r);
    }
  };
  walk("");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
