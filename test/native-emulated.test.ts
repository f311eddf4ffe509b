// Native packages on the emulated stack (issue 12, "Dependencies"): the client installs
// @node-rs/crc32 for the emulated function's platform (this machine's: serverless-offline runs
// the handler on the host, whatever architecture serverless.yml declares), stores the archive
// once under its sha256, and the worker fetches, checks and unpacks it into its temp folder
// (/tmp on Lambda) once per environment; the bundle is written beside it, so its bare import
// resolves there and nowhere else (the temp folder is outside the project).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";
import { CRC32_EXPECTED } from "./helpers/crc32.js";

const emulated = emulatorForFile();
const DEPS_DIR = path.join(os.tmpdir(), "fanout-deps");

/** Unpacked archives that hold @node-rs/crc32 (left by an earlier run on this machine): a new environment has none. */
function unpackedCrc32(): string[] {
  if (!fs.existsSync(DEPS_DIR)) return [];
  return fs.readdirSync(DEPS_DIR).filter((d) => /^[0-9a-f]{64}$/.test(d) && fs.existsSync(path.join(DEPS_DIR, d, "node_modules", "@node-rs", "crc32")));
}

interface Out {
  result: Record<string, string>;
  summary: { deps?: { packages: string[]; platform?: string; packedBytes?: number; unpackedBytes?: number; unpacks: number; unpackMaxMs: number } };
}

describe("native packages on the emulated stack", () => {
  it("crc32 through @node-rs/crc32 from the unpacked archive: the exact values, the unpack timed once per environment", async () => {
    for (const d of unpackedCrc32()) fs.rmSync(path.join(DEPS_DIR, d), { recursive: true, force: true });
    const first = await fanout(["run", "examples/crc32.ts", "--backend", "emulated", "-q", "--json"], { env: emulated.current.env });
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as Out;
    expect(a.result).toEqual(CRC32_EXPECTED);
    const deps = a.summary.deps!;
    expect(deps.packages).toEqual(["@node-rs/crc32"]);
    expect(deps.platform).toBe(`${process.platform}-${process.arch}`);
    expect(deps.packedBytes).toBeGreaterThan(0);
    expect(deps.unpackedBytes).toBeGreaterThan(deps.packedBytes!);
    // The emulated stack is one environment here: the first chunk to load the bundle unpacks, once.
    expect(deps.unpacks).toBe(1);
    expect(deps.unpackMaxMs).toBeGreaterThanOrEqual(0);
    console.log(`cold-start cost of the dependency archive (fetch + sha256 check + unpack of ${deps.packedBytes} bytes): ${deps.unpackMaxMs} ms`);
    // The packages the worker imported: the archive's, unpacked under the temp folder with the bundle beside them.
    const [mine, ...others] = unpackedCrc32();
    expect(others).toEqual([]);
    expect(fs.existsSync(path.join(DEPS_DIR, mine!, "node_modules", "@node-rs", `crc32-${process.platform}-${process.arch}-gnu`))).toBe(true);
    expect(fs.readdirSync(path.join(DEPS_DIR, mine!, "bundles")).some((f) => f.endsWith(".mjs"))).toBe(true);

    // A second run in the same environment reuses what is unpacked: nothing fetched again.
    const second = await fanout(["run", "examples/crc32.ts", "--backend", "emulated", "-q", "--json"], { env: emulated.current.env });
    expect(second.code, second.stderr).toBe(0);
    const b = JSON.parse(second.stdout) as Out;
    expect(b.result).toEqual(CRC32_EXPECTED);
    expect(b.summary.deps?.unpacks).toBe(0);
  });
});
