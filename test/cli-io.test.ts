import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const DIR = tmpDir("cli-io");
afterAll(() => rmDir(DIR));

describe("a closed stderr", () => {
  // `fanout run ... 2>&1 >/dev/null | head -1`: the reader of stderr goes away mid-run.
  it("stops progress, not the run: the result still reaches stdout and the exit code is 0", async () => {
    const outFile = path.join(DIR, "out.json");
    const out = fs.openSync(outFile, "w");
    const child = spawn(process.execPath, [BIN, "run", "test/fixtures/staggered-sum.ts", "--chunks", "10", "--store", path.join(DIR, "store")], {
      cwd: ROOT,
      stdio: ["ignore", out, "pipe"],
    });
    fs.closeSync(out);
    // Like `head -1`: read the first line, then close the pipe's only reader.
    const first = await new Promise<string>((resolve) => {
      let buf = "";
      child.stderr!.setEncoding("utf8").on("data", (s: string) => {
        buf += s;
        if (buf.includes("\n")) {
          child.stderr!.destroy();
          resolve(buf.split("\n")[0]!);
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(first).toBe("fanout: bundling test/fixtures/staggered-sum.ts");
    expect(code).toBe(0);
    expect(JSON.parse(fs.readFileSync(outFile, "utf8"))).toBe(19900);
  });
});

describe("the AWS SDK's Node-version notice", () => {
  // The SDK prints it from the first client made on Node < 22; the CLI always hid it.
  const script = `
import { openStore } from "fanout/dist-backends";
const s = await openStore({ backend: "aws", cwd: process.cwd(), aws: { region: "us-east-1", bucket: "b", functionName: "f", s3Endpoint: "http://127.0.0.1:9" } });
await s.close();
console.log(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? "unset");
`.replace("fanout/dist-backends", pathToFileURL(path.join(ROOT, "dist/src/compute/open.js")).href);
  const lib = (env: Record<string, string | undefined>) =>
    spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: DIR, encoding: "utf8", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined, ...env } });

  it("is not printed in library use either, unless the caller asks for it", () => {
    const quiet = lib({});
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toBe("true\n");
    expect(quiet.stderr).toBe("");
    const asked = lib({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "false" });
    expect(asked.status).toBe(0);
    expect(asked.stdout).toBe("false\n");
    const major = Number(process.versions.node.split(".")[0]);
    if (major < 22) expect(asked.stderr).toContain("NodeVersionSupportWarning");
  });
});

describe("start-up", () => {
  /** The files and packages a command loads, recorded by a module-loader hook. */
  function loadedBy(args: string[]): Promise<string[]> {
    const log = path.join(DIR, `loaded-${args.join("_").replace(/\W+/g, "_")}.txt`);
    const hook = path.join(DIR, "record-loads.mjs");
    fs.writeFileSync(
      hook,
      `import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(\`
import { appendFileSync } from "node:fs";
export async function resolve(spec, ctx, next) { const r = await next(spec, ctx); appendFileSync(${JSON.stringify(log)}, r.url + "\\\\n"); return r; }
\`));
`,
    );
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", hook, BIN, ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
      child.on("error", reject);
      child.on("close", (code) => {
        if (code !== 0) return reject(new Error(`exit ${code}: ${err}`));
        resolve(fs.readFileSync(log, "utf8").split("\n").filter(Boolean));
      });
    });
  }

  // The run machinery: run/ (but the manifest readers: builds, liveness, manifest), exec/, plan/,
  // compute/, report/, and the bench code that bundles (sequential, compare).
  const heavy = /node_modules\/(esbuild|@aws-sdk|@smithy|ora)\/|\/dist\/src\/(run\/(?!(builds|liveness|manifest|runs)\.js$)|exec\/|plan\/|compute\/|report\/|bench\/(sequential|compare)\.js$)/;

  for (const args of [["--help"], ["run", "--help"], ["status", "--help"], ["logs", "--help"], ["bench", "--help"], ["deploy", "--help"], ["teardown", "--help"], ["emulate", "--help"], ["gc", "--help"], ["--version"]]) {
    it(`fanout ${args.join(" ")} loads neither esbuild, the AWS SDK, ora nor the run machinery`, async () => {
      const loaded = await loadedBy(args);
      expect(loaded.some((u) => u.endsWith("/dist/cli/main.js"))).toBe(true); // the hook saw the CLI
      expect(loaded.filter((u) => heavy.test(u))).toEqual([]);
    });
  }
});
