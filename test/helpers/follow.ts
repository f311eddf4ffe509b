import { spawn } from "node:child_process";
import { BIN, fanout, ROOT } from "./cli.js";
import { runIdIn } from "./tmp.js";

/** What `fanout logs -f` printed during a run of test/fixtures/live-lines.ts, and what the store held when "begin 0" showed. */
export interface Followed {
  lines: string[];
  /** `fanout status --json` of the run, taken right after "begin 0" appeared. */
  statusAtBegin: { done: number; status: string };
  runCode: number | null;
  followCode: number | null;
}

/** Run the live-lines job with `args` (backend and store flags) and follow chunk 0's logs from another process. */
export async function followLiveLines(args: string[], env: Record<string, string> = {}): Promise<Followed> {
  const runner = spawn(process.execPath, [BIN, "run", "test/fixtures/live-lines.ts", "--no-speculate", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let runErr = "";
  const runExit = new Promise<number | null>((r) => runner.on("close", (code) => r(code)));
  const runId = await new Promise<string>((resolve, reject) => {
    runner.stderr.setEncoding("utf8").on("data", (s: string) => {
      runErr += s;
      if (/run \d{8}T\d{6}Z-[a-z0-9]{6}:/.test(runErr)) resolve(runIdIn(runErr));
    });
    void runExit.then((code) => reject(new Error(`run exited (${code}) before naming its run: ${runErr}`)));
  });
  const follower = spawn(process.execPath, [BIN, "logs", runId, "0", "-f", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let statusAtBegin: Promise<Followed["statusAtBegin"]> | undefined;
  follower.stdout.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    statusAtBegin ??= out.includes("begin 0") ? fanout(["status", runId, "--json", ...args], { env }).then((r) => JSON.parse(r.stdout)) : undefined;
  });
  const followCode = await new Promise<number | null>((r) => follower.on("close", (code) => r(code)));
  return { lines: out.split("\n").filter(Boolean), statusAtBegin: await statusAtBegin!, runCode: await runExit, followCode };
}
