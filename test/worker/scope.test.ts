// A chunk's log budget: lines past it are dropped with one marker, so a chatty chunk cannot
// blow up its envelope or the reply.
import { describe, expect, it } from "vitest";
import { appendLog, chunkScope, LOGS_DROPPED, MAX_LOG_BYTES, MAX_LOG_LINES, newScope } from "../../dist/worker/scope.js";

describe("chunk log capture", () => {
  it("keeps lines up to the line budget, then one marker however many more come", () => {
    const scope = newScope(3);
    for (let i = 0; i < MAX_LOG_LINES + 500; i++) appendLog(scope, `line ${i}`);
    expect(scope.logs).toHaveLength(MAX_LOG_LINES + 1);
    expect(scope.logs[MAX_LOG_LINES - 1]).toBe(`line ${MAX_LOG_LINES - 1}`);
    expect(scope.logs[MAX_LOG_LINES]).toBe(LOGS_DROPPED);
  });

  it("stops at the byte budget: the line that crosses it is kept, the next ones are not", () => {
    const scope = newScope(0);
    const big = "x".repeat(15 * 1024);
    for (let i = 0; i < 20; i++) appendLog(scope, big);
    // 17 lines of 15 KiB < 256 KiB, the 18th crosses it, the 19th and 20th are dropped.
    expect(scope.logs).toStrictEqual([...Array(18).fill(big), LOGS_DROPPED]);
    expect(scope.logBytes).toBe(18 * big.length);
    expect(scope.logBytes).toBeGreaterThanOrEqual(MAX_LOG_BYTES);
  });

  it("counts bytes, not characters: 3-byte characters spend the budget three times as fast", () => {
    const scope = newScope(0);
    const wide = "€".repeat(5 * 1024);
    for (let i = 0; i < 20; i++) appendLog(scope, wide);
    expect(scope.logs).toStrictEqual([...Array(18).fill(wide), LOGS_DROPPED]);
    expect(scope.logBytes).toBe(18 * 15 * 1024);
  });

  it("a line over 16 KiB is cut there, with a marker giving its length", () => {
    const scope = newScope(0);
    appendLog(scope, "y".repeat(7 * 1024 * 1024));
    expect(scope.logs).toStrictEqual(["y".repeat(16 * 1024) + ` [fanout: line truncated, ${7 * 1024 * 1024} bytes in all]`]);
    expect(scope.logBytes).toBe(Buffer.byteLength(scope.logs[0]!));
  });

  it("a fresh scope is empty and names its chunk", () => {
    expect(newScope(42)).toStrictEqual({ index: 42, logs: [], logBytes: 0 });
  });

  it("the scope follows the chunk through awaits", async () => {
    const scope = newScope(9);
    const seen = await chunkScope.run(scope, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return chunkScope.getStore();
    });
    expect(seen).toBe(scope);
    expect(chunkScope.getStore()).toBeUndefined();
  });
});
