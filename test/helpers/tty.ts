import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN, ROOT } from "./cli.js";

/**
 * The real CLI on a real pseudo-terminal: a detached tmux session of its own (own socket),
 * typed into with send-keys and read with capture-pane, as a person at a terminal would.
 */
export class TerminalSession {
  private readonly socket = `fanout-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-tty-"));
  private readonly exitFile = path.join(this.dir, "exit");

  constructor(args: string[], opts: { cwd?: string; env?: Record<string, string>; cols?: number; rows?: number } = {}) {
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${shellQuote(v)}`);
    // A person's terminal: no CI variable (CI runs this test), under which ora draws nothing.
    const cmd = ["env", "-u", "CI", ...env, shellQuote(process.execPath), shellQuote(BIN), ...args.map(shellQuote)].join(" ");
    // The shell records the exit status, then stays, so the screen can still be read. Its trap
    // keeps Ctrl-C (sent to the whole foreground group) from ending the shell too; a trap
    // with a command is reset in the child, which gets the terminal's SIGINT as usual.
    const script = `trap : INT; cd ${shellQuote(opts.cwd ?? ROOT)} && ${cmd}; echo $? > ${shellQuote(this.exitFile)}; sleep 600`;
    this.tmux("new-session", "-d", "-x", String(opts.cols ?? 120), "-y", String(opts.rows ?? 30), "-s", "t", "sh", "-c", script);
  }

  private tmux(...args: string[]): string {
    return execFileSync("tmux", ["-L", this.socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
  }

  /** What the terminal shows now, plus its scrollback. */
  screen(): string {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", "t");
  }

  /** Keys as tmux names them: "C-c" is Ctrl-C. */
  press(keys: string): void {
    this.tmux("send-keys", "-t", "t", keys);
  }

  /** Wait until the screen matches; returns what it showed. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (pattern.test(s)) return s;
      if (Date.now() > end) throw new Error(`terminal never showed ${pattern}; it shows:\n${s}`);
      await sleep(50);
    }
  }

  async exitCode(timeoutMs = 30_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (!fs.existsSync(this.exitFile) || fs.readFileSync(this.exitFile, "utf8").trim() === "") {
      if (Date.now() > end) throw new Error(`the program did not exit in ${timeoutMs} ms; the terminal shows:\n${this.screen()}`);
      await sleep(50);
    }
    return Number(fs.readFileSync(this.exitFile, "utf8").trim());
  }

  close(): void {
    try {
      this.tmux("kill-server");
    } catch {
      /* already gone */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
