import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Message } from "esbuild";
import { JobLoadError } from "../errors.js";

/** The light entry that jobs get for `import ... from "fanout"`: no SDK, no Node built-ins. */
const JOB_ENTRY = fileURLToPath(new URL("../job/index.js", import.meta.url));

export interface Bundle {
  code: Buffer;
  sha256: string;
  /** The job file as given, resolved. */
  entry: string;
  /** The user's own source files the bundle holds (absolute; not node_modules, not fanout's), from esbuild's metafile (absent for a stored bundle). */
  sources?: string[];
}

/**
 * Bundle a job module and everything it imports (npm packages included) into one ESM file,
 * named by its sha256 so workers cache it by content. An inline source map keeps remote
 * stacks pointing at the user's TypeScript lines.
 */
export async function bundleJob(file: string, cwd = process.cwd()): Promise<Bundle> {
  const entry = path.resolve(cwd, file.startsWith("file:") ? fileURLToPath(file) : file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(entry);
  } catch {
    throw new JobLoadError(`job file not found: ${file}`, `check the path (it is resolved from ${cwd})`);
  }
  if (!stat.isFile()) throw new JobLoadError(`job path is not a file: ${file}`, "name a .ts or .js module");
  try {
    fs.accessSync(entry, fs.constants.R_OK);
  } catch {
    throw new JobLoadError(`job file is not readable: ${file}`, "check its permissions");
  }
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      absWorkingDir: cwd,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      write: false,
      outfile: "job.mjs",
      sourcemap: "external",
      sourcesContent: false,
      logLevel: "silent",
      metafile: true,
      alias: { fanout: JOB_ENTRY },
      // Bundled CommonJS packages call require(); ESM output has none of its own.
      banner: { js: "import { createRequire as __fanoutCreateRequire } from 'node:module'; const require = __fanoutCreateRequire(import.meta.url);" },
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors ?? [];
    const first = errors[0];
    if (first) {
      const loc = first.location ? `${path.relative(cwd, path.resolve(cwd, first.location.file)) || first.location.file}:${first.location.line}:${first.location.column + 1}: ` : "";
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
      throw new JobLoadError(`cannot bundle ${file}: ${loc}${first.text}${more}`, hintForBuildError(first.text), err);
    }
    throw new JobLoadError(`cannot bundle ${file}: ${(err as Error).message}`, undefined, err);
  }
  const out = result.outputFiles.find((f) => f.path.endsWith(".mjs"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  if (!out || !map) throw new JobLoadError(`cannot bundle ${file}: esbuild produced no output`);
  const code = Buffer.from(withAbsoluteSourceMap(out.text, map.text, cwd));
  return { code, sha256: createHash("sha256").update(code).digest("hex"), entry, sources: ownSources(Object.keys(result.metafile.inputs), cwd) };
}

/** esbuild's input paths (relative to cwd) that are the user's own files. */
function ownSources(inputs: string[], cwd: string): string[] {
  return inputs
    .map((i) => path.resolve(cwd, i))
    .filter((f) => f !== JOB_ENTRY && !f.split(path.sep).includes("node_modules") && fs.existsSync(f));
}

function hintForBuildError(text: string): string {
  if (/Could not resolve/.test(text)) return "install the package in the job's project (npm install <name>) or fix the import path";
  if (/No matching export/.test(text)) return "import a name that module exports, or export it there";
  return "fix the syntax error at that line";
}

/**
 * Inline the source map with absolute file URLs as sources, so a stack printed by a worker
 * anywhere names the user's own files. (Node joins `sourceRoot` to sources by plain string
 * concatenation, so absolute sources are the reliable form.)
 */
function withAbsoluteSourceMap(code: string, mapText: string, cwd: string): string {
  const map = JSON.parse(mapText) as { sources: string[]; sourceRoot?: string };
  map.sources = map.sources.map((s) => pathToFileURL(path.resolve(cwd, s)).href);
  delete map.sourceRoot;
  const body = code.replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n");
  return `${body}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`;
}
