// Child processes: one case per fresh process (so one case's heap, module cache, environment
// and worker pool cannot skew the next), and whole `fanout` CLI processes timed from spawn to exit.
import { spawn } from "node:child_process";

export const RESULT_TAG = "@@BENCH_RESULT ";

export function oneLine(err) {
  return String(err?.message ?? err).split("\n")[0].slice(0, 300);
}

/**
 * Spawn `node <argv>` in its own process group, collect its output, and kill the group (the
 * process and any workers it started) after timeoutMs. Resolves with the exit, output and wall ms.
 */
function spawnTimed(argv, { cwd, env = {}, timeoutMs }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, timeoutMs);
    child.on("close", (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms, timedOut: signal === "SIGKILL" });
    });
  });
}

/** Run `script --case name` in a fresh process; resolves with the case's result object or { error }. */
export async function runCase(script, name, { cwd, env, extraArgs = [], timeoutMs = 300_000 }) {
  const r = await spawnTimed([script, "--case", name, ...extraArgs], { cwd, env, timeoutMs });
  const line = r.stdout.split("\n").find((l) => l.startsWith(RESULT_TAG));
  if (line) return JSON.parse(line.slice(RESULT_TAG.length));
  const last = r.stderr.trim().split("\n").slice(-1)[0] ?? "";
  return { error: r.timedOut ? `killed after ${timeoutMs / 1000} s` : `exit ${r.code ?? r.signal}: ${oneLine(last)}` };
}

/**
 * Time one whole `node bin/fanout.js <args>` process, spawn to exit, and check that it printed
 * `expected` (JSON on stdout). Throws with the CLI's own error line otherwise.
 */
export async function timeCli(bin, args, expected, { cwd, timeoutMs = 300_000 }) {
  const r = await spawnTimed([bin, ...args], { cwd, timeoutMs });
  if (r.code !== 0) throw new Error(`fanout ${args.join(" ")}: exit ${r.code ?? r.signal}: ${oneLine(r.stderr.trim() || r.stdout.trim())}`);
  let printed;
  try {
    printed = JSON.parse(r.stdout);
  } catch {
    printed = r.stdout.trim();
  }
  if (printed !== expected) throw new Error(`fanout ${args.join(" ")} printed ${JSON.stringify(printed)}, expected ${expected}`);
  return r.ms;
}

/** Time one whole `node <argv>` process, spawn to exit; it must exit 0. */
export async function timeNode(argv, { cwd, timeoutMs = 60_000 }) {
  const r = await spawnTimed(argv, { cwd, timeoutMs });
  if (r.code !== 0) throw new Error(`node ${argv.join(" ")}: exit ${r.code ?? r.signal}: ${oneLine(r.stderr.trim() || r.stdout.trim())}`);
  return r.ms;
}

/** Report a case's child result in the parent: its error, when it has one, becomes a thrown Error. */
export function unwrap(r, label) {
  if (r?.error) throw new Error(`${label}: ${r.error}`);
  return r;
}
