// Native packages (issue 12, "Dependencies"): a job importing a package with a compiled addon
// (@node-rs/crc32: napi-rs, one optional npm package per platform) runs on the local backend
// from the project's own node_modules, even with its store outside the project; the archive
// fanout builds for Lambda's default arm64 holds the arm64 binary and not this machine's; the
// worker refuses an archive whose contents changed; `defaults.external` leaves a package out
// of the bundle on request.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { map } from "fanout";
import { bundleJob } from "../dist/src/run/bundle.js";
import { shipDeps } from "../dist/src/run/deps.js";
import { subsetLockfile } from "../dist/src/run/deps-lock.js";
import { FolderStore } from "../dist/src/store/folder.js";
import { keys } from "../dist/src/store/keys.js";
import { openPacked, packFolder, unpackStream } from "../dist/src/util/archive.js";
import { bundleDirFor, DepsIntegrityError } from "../dist/worker/deps.js";
import { fanout, ROOT } from "./helpers/cli.js";
import { CRC32_EXPECTED } from "./helpers/crc32.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

/** ELF e_machine of an ELF file (little-endian, as on x86-64 and aarch64 Linux): 62 is x86-64, 183 is AArch64. */
function elfMachine(file: string): number {
  const head = fs.readFileSync(file).subarray(0, 20);
  expect(head.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  return head.readUInt16LE(18);
}

/** Every file under `dir`, relative, "/"-separated. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

describe("native packages on the local backend", () => {
  it("crc32 through @node-rs/crc32, with the store outside the project: the exact values", async () => {
    const store = tmpDir("native-local");
    try {
      const res = await fanout(["run", "examples/crc32.ts", "--store", store, "-q", "--json"]);
      expect(res.code, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as { result: Record<string, string>; summary: { deps?: { packages: string[]; platform?: string } } };
      expect(out.result).toEqual(CRC32_EXPECTED);
      // Imported from the project's node_modules as installed: no archive, no platform.
      expect(out.summary.deps).toEqual({ packages: ["@node-rs/crc32"], unpacks: 0, unpackMaxMs: 0 });
    } finally {
      rmDir(store);
    }
  });

  it("a detached run (its driver in the background, then attach): the exact values", async () => {
    const store = tmpDir("native-detach");
    try {
      const started = await fanout(["run", "examples/crc32.ts", "--detach", "--store", store, "-q"]);
      expect(started.code, started.stderr).toBe(0);
      const runId = started.stdout.trim();
      const res = await fanout(["attach", runId, "--store", store, "--json"]);
      expect(res.code, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout).result).toEqual(CRC32_EXPECTED);
    } finally {
      rmDir(store);
    }
  });

  it("map() over a module that calls the addon, from the library", async () => {
    const store = tmpDir("native-map");
    try {
      const strings = Object.keys(CRC32_EXPECTED);
      expect(await map("test/fixtures/native/crc-functions.ts", "crcHex", strings, { cwd: ROOT, store })).toEqual(Object.values(CRC32_EXPECTED));
    } finally {
      rmDir(store);
    }
  });

  it("the bundler leaves the addon package out (and only it), with the lockfile's version", async () => {
    const bundle = await bundleJob("examples/crc32.ts", ROOT);
    expect(bundle.external.map((e: { name: string }) => e.name)).toEqual(["@node-rs/crc32"]);
    expect(bundle.code.toString()).toMatch(/from "@node-rs\/crc32"/);
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
    const store = tmpDir("native-ship-local");
    try {
      const deps = await shipDeps(new FolderStore(store), bundle, { name: "local" });
      expect(deps).toEqual({ packages: { "@node-rs/crc32": lock.packages["node_modules/@node-rs/crc32"]!.version }, root: ROOT.replace(/\/$/, "") });
    } finally {
      rmDir(store);
    }
  });

  it("a package whose .node file lies deeper than the bundler looks is found by its require and left out in a second pass", async () => {
    const dir = tmpDir("native-deep");
    try {
      const pkg = path.join(dir, "node_modules", "deep-addon");
      fs.mkdirSync(path.join(pkg, "lib", "a", "b", "c"), { recursive: true });
      fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "deep-addon", version: "1.2.3", main: "index.js" }));
      fs.writeFileSync(path.join(pkg, "index.js"), 'module.exports = require("./lib/a/b/c/addon.node");\n');
      fs.writeFileSync(path.join(pkg, "lib", "a", "b", "c", "addon.node"), "not really an addon");
      fs.writeFileSync(path.join(dir, "job.js"), 'import addon from "deep-addon";\nexport default addon;\n');
      const bundle = await bundleJob("job.js", dir);
      expect(bundle.external).toEqual([{ name: "deep-addon", dir: fs.realpathSync(pkg) }]);
      expect(bundle.code.toString()).toContain('from "deep-addon"');
      expect(bundle.code.toString()).not.toContain("addon.node");
    } finally {
      rmDir(dir);
    }
  });

  it("defaults.external leaves a plain JavaScript package out of the bundle too", async () => {
    const store = tmpDir("native-declared");
    try {
      const res = await fanout(["run", "test/fixtures/native/declared-external.ts", "--store", store, "-q", "--json"]);
      expect(res.code, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout) as { result: number; summary: { deps?: { packages: string[] } } };
      expect(out.result).toBe(10);
      expect(out.summary.deps?.packages).toEqual(["p-limit"]);
    } finally {
      rmDir(store);
    }
  });
});

describe("the dependency archive for Lambda", () => {
  it("built for linux-arm64 holds @node-rs/crc32-linux-arm64-gnu, an AArch64 ELF, and not this machine's binary", async () => {
    const store = tmpDir("native-arm64");
    const out = tmpDir("native-arm64-unpacked");
    try {
      const bundle = await bundleJob("examples/crc32.ts", ROOT);
      // Lambda's default architecture (serverless.yml deploys arm64).
      const deps = await shipDeps(new FolderStore(store), bundle, { name: "aws", arch: "arm64" });
      expect(deps.platform).toBe("linux-arm64");
      expect(deps.key).toBe(keys.deps(deps.sha256));
      const stored = fs.readFileSync(path.join(store, deps.key));
      expect(openPacked(stored).sha256).toBe(deps.sha256);
      const unpacked = await unpackStream((async function* () {
        yield stored;
      })(), out);
      expect(unpacked.sha256).toBe(deps.sha256);
      unpacked.links();
      const files = filesUnder(out);
      expect(files).toContain("@node-rs/crc32/index.js");
      expect(files.filter((f) => f.endsWith(".node"))).toEqual(["@node-rs/crc32-linux-arm64-gnu/crc32.linux-arm64-gnu.node"]);
      expect(elfMachine(path.join(out, "@node-rs/crc32-linux-arm64-gnu/crc32.linux-arm64-gnu.node"))).toBe(183);
      expect(files.some((f) => f.includes("x64"))).toBe(false);
      expect(deps.unpackedBytes).toBe(files.reduce((n, f) => n + fs.statSync(path.join(out, f)).size, 0));
      // Built once: the second time comes from the cache, byte for byte.
      const again = await shipDeps(new FolderStore(store), bundle, { name: "aws", arch: "arm64" });
      expect(again).toEqual(deps);
    } finally {
      rmDir(store);
      rmDir(out);
    }
  }, 180_000);

  it("is installed from the user's lockfile: the packages and all they depend on, at its versions and hashes, as production dependencies", () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string; integrity: string; dev?: boolean }> };
    const root = ROOT.replace(/\/$/, "");
    const sub = subsetLockfile([{ name: "p-limit", dir: path.join(root, "node_modules", "p-limit") }], { "p-limit": lock.packages["node_modules/p-limit"]!.version }) as {
      packages: Record<string, { version?: string; integrity?: string; dev?: boolean; dependencies?: Record<string, string> }>;
    };
    // p-limit and its one dependency, yocto-queue, exactly as locked.
    expect(Object.keys(sub.packages).sort()).toEqual(["", "node_modules/p-limit", "node_modules/yocto-queue"]);
    for (const k of ["node_modules/p-limit", "node_modules/yocto-queue"]) {
      expect(sub.packages[k]!.version).toBe(lock.packages[k]!.version);
      expect(sub.packages[k]!.integrity).toBe(lock.packages[k]!.integrity);
    }
    expect(sub.packages[""]!.dependencies).toEqual({ "p-limit": lock.packages["node_modules/p-limit"]!.version });
    // @node-rs/crc32 is a devDependency here: in its own project it is a production one, with every platform's optional package.
    const crc = subsetLockfile([{ name: "@node-rs/crc32", dir: path.join(root, "node_modules", "@node-rs", "crc32") }], { "@node-rs/crc32": "1.10.8" }) as typeof sub;
    expect(lock.packages["node_modules/@node-rs/crc32"]!.dev).toBe(true);
    expect(Object.values(crc.packages).some((e) => e.dev)).toBe(false);
    expect(Object.keys(crc.packages)).toContain("node_modules/@node-rs/crc32-linux-arm64-gnu");
  });

  it("the same files always pack to the same sha256, whatever their times", () => {
    const dir = tmpDir("native-pack");
    try {
      fs.mkdirSync(path.join(dir, "a", "b"), { recursive: true });
      fs.writeFileSync(path.join(dir, "a", "b", "x.js"), "x");
      fs.writeFileSync(path.join(dir, "y.js"), "yy");
      const first = packFolder(dir);
      fs.utimesSync(path.join(dir, "y.js"), new Date(2001, 1, 1), new Date(2001, 1, 1));
      expect(packFolder(dir).sha256).toBe(first.sha256);
      expect(first.unpackedBytes).toBe(3);
    } finally {
      rmDir(dir);
    }
  });

  it("the worker refuses an archive whose contents are not the ones the run recorded", async () => {
    const dir = tmpDir("native-tampered");
    let unpacked: string | undefined;
    try {
      const src = path.join(dir, "src");
      fs.mkdirSync(path.join(src, "left-pad"), { recursive: true });
      fs.writeFileSync(path.join(src, "left-pad", "index.js"), "module.exports = 1;");
      const packed = packFolder(src);
      unpacked = packed.sha256;
      const store = new FolderStore(path.join(dir, "store"));
      // Recorded under a hash of other contents (a changed object behind the run's key).
      const recorded = "0".repeat(63) + "1";
      await store.put(keys.deps(recorded), packed.gz);
      const env = { store, platform: "lambda" as const, workerId: "t", cacheDir: path.join(dir, "cache") };
      await expect(bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(recorded), sha256: recorded }, env)).rejects.toThrow(DepsIntegrityError);
      await expect(bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(recorded), sha256: recorded }, env)).rejects.toThrow(
        `dependency archive ${keys.deps(recorded)} holds sha256 ${packed.sha256}, not the ${recorded} the run recorded`,
      );
      expect(fs.existsSync(path.join(os.tmpdir(), "fanout-deps", recorded))).toBe(false);
      // Bytes that are no archive at all (an object replaced, or grown past its recorded size) are refused alike.
      await store.put(keys.deps(recorded), Buffer.concat([packed.gz, Buffer.from("appended")]));
      await expect(bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(recorded), sha256: recorded, packedBytes: packed.gz.length }, env)).rejects.toThrow(
        new RegExp(`^dependency archive ${keys.deps(recorded)} holds unreadable bytes \\(.+\\), not the ${recorded} the run recorded`),
      );
      await store.put(keys.deps(recorded), Buffer.from("not gzip at all"));
      await expect(bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(recorded), sha256: recorded }, env)).rejects.toThrow(DepsIntegrityError);
      // The intact archive under its own hash unpacks, once, into the temp folder.
      await store.put(keys.deps(packed.sha256), packed.gz);
      const placed = await bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(packed.sha256), sha256: packed.sha256 }, env);
      expect(placed.dir).toBe(path.join(os.tmpdir(), "fanout-deps", packed.sha256, "bundles"));
      expect(fs.readFileSync(path.join(os.tmpdir(), "fanout-deps", packed.sha256, "node_modules", "left-pad", "index.js"), "utf8")).toBe("module.exports = 1;");
      const second = await bundleDirFor({ packages: { "left-pad": "1.0.0" }, root: dir, key: keys.deps(packed.sha256), sha256: packed.sha256 }, env);
      expect(second.ms).toBeUndefined();
    } finally {
      rmDir(dir);
      if (unpacked) rmDir(path.join(os.tmpdir(), "fanout-deps", unpacked));
    }
  });
  it("unpacks from pieces of any size (one byte, headers and files cut anywhere): the same files, modes and links", async () => {
    const dir = tmpDir("native-pieces");
    try {
      const src = path.join(dir, "src");
      fs.mkdirSync(path.join(src, "pkg", "lib", "deep"), { recursive: true });
      fs.writeFileSync(path.join(src, "pkg", "index.js"), "module.exports = require('./lib/deep/x.js');");
      fs.writeFileSync(path.join(src, "pkg", "lib", "deep", "x.js"), "module.exports = 'é'.repeat(70000);");
      fs.writeFileSync(path.join(src, "pkg", "empty.txt"), "");
      fs.writeFileSync(path.join(src, "pkg", "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
      fs.mkdirSync(path.join(src, ".bin"));
      fs.symlinkSync("../pkg/run.sh", path.join(src, ".bin", "run"));
      const packed = packFolder(src);
      for (const size of [1, 7, 4096, 1 << 20]) {
        const out = path.join(dir, `out-${size}`);
        async function* pieces() {
          for (let at = 0; at < packed.gz.length; at += size) yield packed.gz.subarray(at, at + size);
        }
        const u = await unpackStream(pieces(), out);
        expect(u.sha256).toBe(packed.sha256);
        // The link is made only when the caller says the archive is the one it expects.
        expect(fs.existsSync(path.join(out, ".bin", "run"))).toBe(false);
        u.links();
        expect(filesUnder(out)).toEqual(filesUnder(src));
        for (const f of filesUnder(src)) expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(src, f))), f).toBe(true);
        expect(fs.statSync(path.join(out, "pkg", "run.sh")).mode & 0o111).not.toBe(0);
        expect(fs.readlinkSync(path.join(out, ".bin", "run"))).toBe("../pkg/run.sh");
      }
      // Cut short inside an entry: refused, not a silently partial folder.
      async function* truncated() {
        yield gzipSync(openPacked(packed.gz).raw.subarray(0, 40));
      }
      await expect(unpackStream(truncated(), path.join(dir, "short"))).rejects.toThrow("it ends inside an entry");
    } finally {
      rmDir(dir);
    }
  });

  it("the worker unpacks an archive without holding it and its files at once: peak RSS of a fresh process under twice the archive's size", async () => {
    // 96 MB of incompressible files. The worker used to hold the archive, its whole unzipped
    // stream and the inflater's output at once: its peak rose ~295 MB (3x), which a 256 or 512 MB
    // function cannot give. Streamed in 8 MB pieces it rose 95-99 MB here (what is left is
    // garbage the collector has not yet reclaimed: 71 MB for a 48 MB archive, 119 MB for 192 MB).
    const dir = tmpDir("native-big");
    try {
      const src = path.join(dir, "src", "big");
      fs.mkdirSync(src, { recursive: true });
      for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(src, `part-${i}.bin`), crypto.randomBytes(8 * 1024 * 1024));
      const packed = packFolder(path.join(dir, "src"));
      const storeDir = path.join(dir, "store");
      await new FolderStore(storeDir).put(keys.deps(packed.sha256), packed.gz);
      fs.mkdirSync(path.join(dir, "tmp"));
      const script = `
        import { FolderStore } from ${JSON.stringify(pathToFileURL(path.join(ROOT, "dist/src/store/folder.js")).href)};
        import { bundleDirFor } from ${JSON.stringify(pathToFileURL(path.join(ROOT, "dist/worker/deps.js")).href)};
        import { readFileSync } from "node:fs";
        const hwm = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "latin1"))[1]) * 1024;
        const store = new FolderStore(${JSON.stringify(storeDir)});
        const before = hwm();
        const r = await bundleDirFor({ packages: { big: "1.0.0" }, root: "/", key: ${JSON.stringify(keys.deps(packed.sha256))}, sha256: ${JSON.stringify(packed.sha256)}, packedBytes: ${packed.gz.length} }, { store, platform: "lambda", workerId: "t", cacheDir: "/tmp" });
        console.log(JSON.stringify({ dir: r.dir, grew: hwm() - before }));`;
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, TMPDIR: path.join(dir, "tmp") }, encoding: "utf8" });
      expect(child.status, child.stderr).toBe(0);
      const { dir: placed, grew } = JSON.parse(child.stdout) as { dir: string; grew: number };
      const folder = path.dirname(placed);
      expect(filesUnder(path.join(folder, "node_modules"))).toEqual(Array.from({ length: 12 }, (_, i) => `big/part-${i}.bin`).sort());
      expect(fs.readFileSync(path.join(folder, "node_modules", "big", "part-7.bin")).equals(fs.readFileSync(path.join(src, "part-7.bin")))).toBe(true);
      expect(grew).toBeLessThan(2 * packed.gz.length);
    } finally {
      rmDir(dir);
    }
  }, 60_000);
});

