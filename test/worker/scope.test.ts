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
    const big = "x".repeat(100 * 1024);
    for (let i = 0; i < 5; i++) appendLog(scope, big);
    // 100 KiB + 100 KiB < 256 KiB, the third crosses it, the fourth and fifth are dropped.
    expect(scope.logs).toStrictEqual([big, big, big, LOGS_DROPPED]);
    expect(scope.logBytes).toBe(3 * big.length);
    expect(scope.logBytes).toBeGreaterThanOrEqual(MAX_LOG_BYTES);
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
