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
import { pipeline } from "node:stream/promises";
import { createGunzip, gunzipSync, gzipSync } from "node:zlib";

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

/** The raw stream of a packed folder and its sha256 (the client's check of its cached archive). */
export function openPacked(gz: Buffer): { raw: Buffer; sha256: string } {
  const raw = gunzipSync(gz);
  return { raw, sha256: createHash("sha256").update(raw).digest("hex") };
}

/** Bytes that are not a whole fanout archive: a bad header, or a stream that ends inside an entry. */
export class ArchiveFormatError extends Error {
  override name = "ArchiveFormatError";
}

/**
 * Unpack a gzip'd archive arriving in pieces into `dir` (a fresh folder) without holding it
 * whole: the worker's memory may be smaller than the archive and what it unpacks to. The files
 * are written as their bytes arrive; symlinks wait for `links()`, which the caller calls only
 * once the sha256 is the one it expects, so no file of a changed archive was written through one.
 */
export async function unpackStream(gz: AsyncIterable<Uint8Array>, dir: string): Promise<{ sha256: string; links(): void }> {
  const u = new Unpacker(dir);
  try {
    await pipeline(gz, createGunzip(), async (raw: AsyncIterable<Buffer>) => {
      for await (const piece of raw) u.write(piece);
    });
    return { sha256: u.end(), links: () => u.links() };
  } finally {
    u.close();
  }
}

const MAGIC_PHASE = 0;
const HEAD_PHASE = 1;
const NAME_PHASE = 2;
const BODY_PHASE = 3;

/** The raw stream's entries written under a folder as the bytes arrive, in pieces of any size. */
class Unpacker {
  private readonly root: string;
  private readonly hash = createHash("sha256");
  private phase = MAGIC_PHASE;
  /** Header bytes gathered so far (headers may straddle pieces). */
  private acc: Buffer[] = [];
  private accLen = 0;
  private kind = FILE;
  private nameLen = 0;
  private file = "";
  /** Body bytes still to come for the current entry. */
  private left = 0;
  private fd: number | undefined;
  private target: Buffer[] = [];
  private readonly pending: Array<[target: string, file: string]> = [];

  constructor(dir: string) {
    this.root = path.resolve(dir);
  }

  write(piece: Buffer): void {
    this.hash.update(piece);
    let at = 0;
    while (at < piece.length) {
      if (this.phase === BODY_PHASE) {
        const take = Math.min(this.left, piece.length - at);
        this.body(piece.subarray(at, at + take));
        at += take;
        this.left -= take;
        if (this.left === 0) this.closeEntry();
        continue;
      }
      const need = this.phase === MAGIC_PHASE ? MAGIC.length : this.phase === HEAD_PHASE ? 3 : this.nameLen + 4;
      const take = Math.min(need - this.accLen, piece.length - at);
      // Copied: a header is a few bytes, and the piece's memory may be reused.
      this.acc.push(Buffer.from(piece.subarray(at, at + take)));
      this.accLen += take;
      at += take;
      if (this.accLen < need) break;
      const head = this.acc.length === 1 ? this.acc[0]! : Buffer.concat(this.acc);
      this.acc = [];
      this.accLen = 0;
      this.header(head);
    }
  }

  /** The sha256 of the raw stream; throws if it ended inside an entry. */
  end(): string {
    if (this.phase !== HEAD_PHASE || this.accLen > 0) throw new ArchiveFormatError("not a fanout archive (it ends inside an entry)");
    return this.hash.digest("hex");
  }

  /** Make the symlinks the stream held. */
  links(): void {
    for (const [target, file] of this.pending) fs.symlinkSync(target, file);
  }

  /** Close a file left open by a stream that failed mid-entry. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private header(b: Buffer): void {
    if (this.phase === MAGIC_PHASE) {
      if (!b.equals(MAGIC)) throw new ArchiveFormatError("not a fanout archive (bad header)");
      this.phase = HEAD_PHASE;
    } else if (this.phase === HEAD_PHASE) {
      this.kind = b.readUInt8(0);
      this.nameLen = b.readUInt16BE(1);
      this.phase = NAME_PHASE;
    } else {
      this.openEntry(b.toString("utf8", 0, this.nameLen), b.readUInt32BE(this.nameLen));
    }
  }

  private openEntry(name: string, len: number): void {
    const file = path.resolve(this.root, name);
    // Only inside the folder: a name with ".." or an absolute path is a broken archive.
    if (!file.startsWith(this.root + path.sep)) throw new Error(`archive entry ${JSON.stringify(name)} points outside the folder`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.file = file;
    if (this.kind === LINK) this.target = [];
    else this.fd = fs.openSync(file, "w", this.kind === EXEC ? 0o755 : 0o644);
    this.left = len;
    this.phase = BODY_PHASE;
    if (len === 0) this.closeEntry();
  }

  private body(b: Buffer): void {
    if (this.kind === LINK) this.target.push(Buffer.from(b));
    else for (let off = 0; off < b.length; ) off += fs.writeSync(this.fd!, b, off, b.length - off);
  }

  private closeEntry(): void {
    if (this.kind === LINK) this.pending.push([Buffer.concat(this.target).toString("utf8"), this.file]);
    else this.close();
    this.phase = HEAD_PHASE;
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
