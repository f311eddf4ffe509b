import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isBuiltin } from "node:module";
import { build, type Message, type Plugin } from "esbuild";
import { JobLoadError } from "../errors.js";
import { findPackageDir, isNativePackage, owningPackage, packageNameOf, type InstalledPackage } from "./deps-detect.js";

/** The light entry that jobs get for `import ... from "fanout"`: no SDK, no Node built-ins. */
const JOB_ENTRY = fileURLToPath(new URL("../job/index.js", import.meta.url));

export interface Bundle {
  code: Buffer;
  sha256: string;
  /** The job file as given, resolved. */
  entry: string;
  /** The user's own source files the bundle holds (absolute; not node_modules, not fanout's), from esbuild's metafile (absent for a stored bundle). */
  sources?: string[];
  /**
   * Packages left out of the bundle and imported by name at run time, sorted by name: those
   * with a compiled addon (found by the bundler) and those `defaults.external` names.
   */
  external: InstalledPackage[];
}

/**
 * Bundle a job module and everything it imports (npm packages included) into one ESM file,
 * named by its sha256 so workers cache it by content. An inline source map keeps remote
 * stacks pointing at the user's TypeScript lines.
 */
export async function bundleJob(file: string, cwd = process.cwd(), declared: readonly string[] = []): Promise<Bundle> {
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
  const explicit = new Set(declared);
  let found = await esbuild(entry, file, cwd, explicit);
  // A .node file the first pass met inside a package not known as native: its whole package
  // goes external, so the build runs again with it named.
  if (found.addonOwners.some((n) => !explicit.has(n))) {
    for (const n of found.addonOwners) explicit.add(n);
    found = await esbuild(entry, file, cwd, explicit);
  }
  const { out, map, sources, external } = found;
  const code = Buffer.from(withAbsoluteSourceMap(out, map, cwd));
  return { code, sha256: createHash("sha256").update(code).digest("hex"), entry, sources, external: [...external.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) };
}

interface Built {
  out: string;
  map: string;
  sources: string[];
  external: Map<string, InstalledPackage>;
  /** Packages whose `.node` files the bundler met. */
  addonOwners: string[];
}

async function esbuild(entry: string, file: string, cwd: string, explicit: ReadonlySet<string>): Promise<Built> {
  const external = new Map<string, InstalledPackage>();
  const addonOwners = new Set<string>();
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
      plugins: [externalsPlugin(explicit, external, addonOwners)],
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
  return { out: out.text, map: map.text, sources: ownSources(Object.keys(result.metafile.inputs), cwd), external, addonOwners: [...addonOwners] };
}

/** esbuild's input paths (relative to cwd) that are the user's own files. */
function ownSources(inputs: string[], cwd: string): string[] {
  return inputs
    .map((i) => path.resolve(cwd, i))
    .filter((f) => f !== JOB_ENTRY && !f.split(path.sep).includes("node_modules") && fs.existsSync(f));
}

/**
 * Leave a package external (imported by name at run time) when the job names it in
 * `defaults.external` or it loads a compiled addon, which no bundle can hold; note the
 * package of any `.node` file met anyway.
 */
function externalsPlugin(explicit: ReadonlySet<string>, external: Map<string, InstalledPackage>, addonOwners: Set<string>): Plugin {
  return {
    name: "fanout-externals",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path === "fanout" || isBuiltin(args.path) || path.isAbsolute(args.path)) return undefined;
        const name = packageNameOf(args.path);
        const dir = findPackageDir(name, args.resolveDir);
        // Not installed: esbuild's own "Could not resolve" says so.
        if (!dir || !(explicit.has(name) || isNativePackage(dir))) return undefined;
        if (!external.has(name)) external.set(name, { name, dir });
        return { path: args.path, external: true };
      });
      b.onResolve({ filter: /\.node$/ }, (args) => {
        const owner = owningPackage(path.resolve(args.resolveDir, args.path));
        if (owner) addonOwners.add(owner.name);
        return { path: args.path, external: true };
      });
    },
  };
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
