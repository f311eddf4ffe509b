import { spawn } from "node:child_process";
import { BIN, ROOT } from "./cli.js";

/**
 * Start `fanout run <args>` (a `--detach` run) in a process group of its own and SIGKILL that
 * group once it printed the run id, as a terminal closing would; the run id and what the
 * client wrote on stderr by then.
 */
export async function detachThenKill(args: string[], env: Record<string, string>): Promise<{ runId: string; stderr: string }> {
  const client = spawn(process.execPath, [BIN, "run", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let stderr = "";
  client.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const runId = await new Promise<string>((resolve, reject) => {
    client.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const m = /^(\d{8}T\d{6}Z-[a-z0-9]{6})$/m.exec(out);
      if (m) resolve(m[1]!);
    });
    client.on("close", (code) => reject(new Error(`client exited (${code}) without a run id: ${stderr}`)));
  });
  // The terminal closing takes the client's whole process group with it; the driver is not in it.
  try {
    process.kill(-client.pid!, "SIGKILL");
  } catch {
    /* already gone: it exits right after printing */
  }
  return { runId, stderr };
}
