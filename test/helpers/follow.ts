import { spawn } from "node:child_process";
import { BIN, ROOT } from "./cli.js";
import { runIdIn } from "./tmp.js";

/** What `fanout logs -f` printed during a run of test/fixtures/live-lines.ts, and when. */
export interface Followed {
  runId: string;
  lines: string[];
  /** When "begin 0" reached this process (ms since the epoch). */
  beginSeenAt: number;
  /** When chunk 0's map returned, by its own clock (the same machine's). */
  chunk0EndedAt: number;
  runCode: number | null;
  followCode: number | null;
}

/** Run the live-lines job with `args` (backend and store flags) and follow chunk 0's logs from another process. */
export async function followLiveLines(args: string[], env: Record<string, string> = {}): Promise<Followed> {
  const runner = spawn(process.execPath, [BIN, "run", "test/fixtures/live-lines.ts", "--no-speculate", ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let runErr = "";
  let runOut = "";
  runner.stdout.setEncoding("utf8").on("data", (s: string) => (runOut += s));
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
  let beginSeenAt = 0;
  follower.stdout.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    if (!beginSeenAt && out.includes("begin 0")) beginSeenAt = Date.now();
  });
  const followCode = await new Promise<number | null>((r) => follower.on("close", (code) => r(code)));
  const runCode = await runExit;
  const ended = JSON.parse(runOut) as number[];
  return { runId, lines: out.split("\n").filter(Boolean), beginSeenAt, chunk0EndedAt: ended[0]!, runCode, followCode };
}
