// The CLI on a real pseudo-terminal (tmux): what a person at a terminal gets by default,
// spinner and all. Pipes and `kill -INT` cannot show what the terminal's line discipline does.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";
import { TerminalSession } from "./helpers/tty.js";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-tty-store-"));
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

let term: TerminalSession | undefined;
afterEach(() => term?.close());

describe("on a terminal", () => {
  it("Ctrl-C under the progress spinner cancels the run, exits 130 and prints the resume command, which finishes it", async () => {
    const env = { FANOUT_SLOW_MS: "300", FANOUT_SLOW_COUNT: "200" };
    term = new TerminalSession(["run", "test/fixtures/faults/slow.ts", "--chunks", "200", "--concurrency", "4", "--store", STORE, "--no-speculate"], { env });
    // The spinner is up and chunks are finishing: the terminal is in the program's hands.
    await term.waitFor(/[1-9]\d*\/200 done/);
    term.press("C-c");
    expect(await term.exitCode(20_000)).toBe(130);
    const screen = term.screen();
    expect(screen).toMatch(/cancelling/);
    const m = /resume with: fanout run test\/fixtures\/faults\/slow\.ts --resume (\S+)/.exec(screen);
    expect(m, screen).not.toBeNull();
    // Far from all 200 chunks ran: the keypress stopped the run, not its end.
    expect(screen).not.toMatch(/200\/200 done/);

    const resumed = await fanout(["run", "test/fixtures/faults/slow.ts", "--resume", m![1]!, "--store", STORE, "--json", "-q", "--concurrency", "50"], { env: { ...env, FANOUT_SLOW_MS: "1" } });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).result).toBe((200 * 199) / 2);
  });
});
