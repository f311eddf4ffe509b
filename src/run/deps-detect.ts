/**
 * Which npm packages a job's bundle must leave external: those esbuild cannot fold into one
 * JavaScript file because they load a compiled addon (a `.node` file) that exists per
 * platform. Read from the installed package's own package.json and files, never guessed from
 * its name alone.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** An installed package: its name and the folder it was resolved to. */
export interface InstalledPackage {
  name: string;
  dir: string;
}

/** Loaders and build helpers that only a package with a compiled addon depends on. */
const ADDON_HELPERS = new Set(["node-gyp-build", "bindings", "prebuild-install", "node-pre-gyp", "@mapbox/node-pre-gyp", "node-addon-api", "nan"]);
/** An optional dependency named for a platform: how @node-rs/*, sharp (@img/sharp-linux-x64) and esbuild ship binaries. */
const PLATFORM_NAME = /(^|[-/])(linux|darwin|win32|freebsd|android)-/;

/** "@scope/name/sub/path" -> "@scope/name"; "name/sub" -> "name". */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** The folder of package `name` as Node would find it from `fromDir` (node_modules, walking up). */
export function findPackageDir(name: string, fromDir: string): string | undefined {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return fs.realpathSync(candidate);
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * The installed package that holds `file` (the nearest folder up with a package.json naming
 * a package, inside a node_modules); undefined for the job's own files.
 */
export function owningPackage(file: string): InstalledPackage | undefined {
  if (!file.split(path.sep).includes("node_modules")) return undefined;
  for (let dir = path.dirname(file); path.basename(dir) !== "node_modules" && path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const pkg = readPackageJson(dir);
    if (pkg?.name) return { name: pkg.name, dir };
  }
  return undefined;
}

const verdicts = new Map<string, boolean>();

/** Whether the package in `dir` loads a compiled addon (declares one, depends on a loader, or holds a `.node` file). */
export function isNativePackage(dir: string): boolean {
  let v = verdicts.get(dir);
  if (v === undefined) {
    v = declaresNative(readPackageJson(dir) ?? {}) || holdsNodeFile(dir, 3);
    verdicts.set(dir, v);
  }
  return v;
}

interface PackageJson {
  name?: string;
  version?: string;
  gypfile?: boolean;
  binary?: unknown;
  napi?: unknown;
  os?: unknown;
  cpu?: unknown;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function declaresNative(pkg: PackageJson): boolean {
  if (pkg.gypfile || pkg.binary || pkg.napi || pkg.os || pkg.cpu) return true;
  const deps = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})];
  if (deps.some((d) => ADDON_HELPERS.has(d))) return true;
  return Object.keys(pkg.optionalDependencies ?? {}).some((d) => PLATFORM_NAME.test(d));
}

function holdsNodeFile(dir: string, depth: number): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    if (e.isFile() && e.name.endsWith(".node")) return true;
    if (depth > 0 && e.isDirectory() && e.name !== "node_modules" && holdsNodeFile(path.join(dir, e.name), depth - 1)) return true;
  }
  return false;
}

/** Scripts that compile an addon (or fetch one for this machine) at install time. */
const BUILD_SCRIPT = /node-gyp|prebuild-install|node-pre-gyp|cmake-js/;

/** Whether the package in `dir` makes its addon in an install script rather than shipping it prebuilt per platform. */
export function buildsFromSource(dir: string): boolean {
  const pkg = readPackageJson(dir) as (PackageJson & { scripts?: Record<string, string> }) | undefined;
  if (!pkg) return false;
  const scripts = [pkg.scripts?.preinstall, pkg.scripts?.install, pkg.scripts?.postinstall].filter((s): s is string => typeof s === "string");
  // npm runs `node-gyp rebuild` itself for a package with a binding.gyp and no install script.
  const implicitGyp = scripts.length === 0 && fs.existsSync(path.join(dir, "binding.gyp"));
  return implicitGyp || scripts.some((s) => BUILD_SCRIPT.test(s)) || (pkg.gypfile === true && scripts.length === 0);
}

/** The package.json in `dir`, or undefined where there is none (or it is not JSON). */
export function readPackageJson(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson;
  } catch {
    return undefined;
  }
}
