/**
 * Running the emulated stack's servers as child processes: find a package's command, spawn it
 * and wait for the line that says it is ready, stop it, pick a free loopback port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../errors.js";

/** The package root: serverless.yml and the built Lambda worker live there. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../../..", import.meta.url));
const require = createRequire(import.meta.url);

/** The path of a package's command, to run with node (never imported). */
export function binOf(pkg: string, bin: string): string {
  let pj: string;
  try {
    pj = require.resolve(`${pkg}/package.json`, { paths: [PACKAGE_ROOT, process.cwd()] });
  } catch {
    throw new ConfigError(
      `the emulated AWS stack needs the npm package "${pkg}", which is not installed`,
      "npm install --save-dev osls serverless-offline@13 s3rver (with legacy-peer-deps=true in .npmrc)",
    );
  }
  const meta = JSON.parse(fs.readFileSync(pj, "utf8")) as { bin?: string | Record<string, string> };
  const rel = typeof meta.bin === "string" ? meta.bin : meta.bin?.[bin];
  if (!rel) throw new ConfigError(`package "${pkg}" has no "${bin}" command`, `reinstall ${pkg}`);
  return path.join(path.dirname(pj), rel);
}

/** A loopback port free at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Spawn a server and resolve once `ready` matches its output (either stream). */
export function startServer(
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; ready: RegExp; timeoutMs: number },
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const finish = (err?: Error, match?: RegExpExecArray) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else resolve({ child, match: match! });
    };
    const timer = setTimeout(
      () => finish(new ConfigError(`${name} did not start within ${opts.timeoutMs / 1000} s: ${out.trim().split("\n").slice(-3).join(" | ")}`, "see the output above; is the port free?")),
      opts.timeoutMs,
    );
    const onData = (d: Buffer) => {
      out = (out + d.toString("utf8")).slice(-20_000);
      const m = opts.ready.exec(out);
      if (m) finish(undefined, m);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (e) => finish(e));
    child.once("exit", (code) => finish(new ConfigError(`${name} exited (code ${code}) before it was ready: ${out.trim().split("\n").slice(-5).join(" | ")}`, "see its output")));
  });
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Keeps update notices, telemetry and the SDK's Node version notice out of the servers' output. */
export const QUIET_ENV = {
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  NPM_CONFIG_UPDATE_NOTIFIER: "false",
  SLS_TELEMETRY_DISABLED: "1",
  SLS_NOTIFICATIONS_MODE: "off",
};
