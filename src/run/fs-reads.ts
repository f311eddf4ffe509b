/**
 * A job that opens a file next to it by a relative path works locally and fails on Lambda,
 * whose workers run from /var/task with none of the user's files. Before a remote run, the
 * job's own sources (esbuild's inputs from the user's folder) are searched for the common
 * case: a string literal given to fs's readFileSync / readFile / createReadStream (fs.promises
 * included), or `new URL("./x", import.meta.url)`, naming a file that exists next to the job
 * (or in the working directory, or beside that source) and is not among the job's assets.
 * Paths built at run time are not seen here; the worker's ENOENT hint covers those.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";

const FS_READ = /\b(?:readFileSync|readFile|createReadStream)\s*\(\s*(["'`])([^"'`$\n]+)\1/g;
const URL_READ = /\bnew\s+URL\s*\(\s*(["'`])([^"'`$\n]+)\1\s*,\s*import\.meta\.url\s*\)/g;

/** A read found in a source: the literal as written, and the file it names. */
interface DiskRead {
  literal: string;
  file: string;
}

/** Block comments and whole-line comments: a commented-out read is not a read. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** A relative path, not a URL, a `node:` name or an absolute path. */
function isRelative(literal: string): boolean {
  return !path.isAbsolute(literal) && !/^[a-z][a-z0-9+.-]*:/i.test(literal) && !literal.startsWith("~");
}

/** The first existing file among `candidates`. */
function existingFile(candidates: string[]): string | undefined {
  return candidates.find((f) => fs.statSync(f, { throwIfNoEntry: false })?.isFile());
}

/** Relative files the sources read from disk, in order of appearance. */
function diskReads(sources: readonly string[], jobDir: string, cwd: string): DiskRead[] {
  const found: DiskRead[] = [];
  for (const source of sources) {
    const text = withoutComments(fs.readFileSync(source, "utf8"));
    const here = path.dirname(source);
    for (const m of text.matchAll(FS_READ)) {
      const literal = m[2]!;
      // fs resolves a relative path from the working directory; next to the job is where it was meant to be.
      const file = isRelative(literal) ? existingFile([path.resolve(cwd, literal), path.resolve(jobDir, literal), path.resolve(here, literal)]) : undefined;
      if (file) found.push({ literal, file });
    }
    for (const m of text.matchAll(URL_READ)) {
      const literal = m[2]!;
      const file = isRelative(literal) ? existingFile([path.resolve(here, literal)]) : undefined;
      if (file) found.push({ literal, file });
    }
  }
  return found;
}

/**
 * Stop a remote run whose job reads a file of the user's folder that it does not ship.
 * `job`: the job file as the user named it; `shipped`: the files its assets name.
 */
export function checkFsReads(job: string, sources: readonly string[], cwd: string, shipped: ReadonlySet<string>): void {
  const jobDir = path.dirname(path.resolve(cwd, job));
  const missing = diskReads(sources, jobDir, cwd).filter((r) => !shipped.has(r.file));
  const first = missing[0];
  if (!first) return;
  const name = path.relative(jobDir, first.file).split(path.sep).join("/");
  const more = new Set(missing.map((r) => r.file)).size - 1;
  throw new UsageError(
    `${job}: reads ${first.literal} from disk, which the workers will not have${more > 0 ? ` (and ${more} more file${more > 1 ? "s" : ""})` : ""}`,
    `ship it with assets: ["${name}"] and open it with ctx.asset("${name}")`,
  );
}
