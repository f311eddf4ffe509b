// The local IPC codec: a reply must come out of the wire as it went in. The wire is JSON (the
// pool forks workers with serialization: "json"), so every case goes through JSON as IPC does.
import { describe, expect, it } from "vitest";
import { attemptKey, decodeReply, encodeReply } from "../../../dist/src/compute/local/protocol.js";
import type { Reply } from "../../../dist/src/types.js";

const worker: Reply["worker"] = { platform: "local", id: "local-42", memoryMb: 512 };

function reply(over: Partial<Reply>): Reply {
  return {
    v: 1,
    runId: "run-1",
    index: 7,
    attempt: 2,
    ok: true,
    timing: { startedAt: 1000, endedAt: 1250, loadMs: 12, coldStart: false },
    logs: [],
    worker,
    bytes: 0,
    ...over,
  };
}

const overTheWire = (r: Reply): Reply => decodeReply(JSON.parse(JSON.stringify(encodeReply(r))), r.runId, r.worker);

describe("local protocol: encodeReply / decodeReply", () => {
  it.each<[string, Partial<Reply>]>([
    ["ok with an inline value", { value: { sum: 3, parts: [1, 2] }, bytes: 25 }],
    ["ok with a falsy value", { value: 0, bytes: 1 }],
    ["ok with null", { value: null, bytes: 4 }],
    ["ok with no value (map returned undefined)", {}],
    ["ok, stored: the value stays in the store", { stored: true, bytes: 9_000_000 }],
    ["ok on a cold start", { value: "x", bytes: 3, timing: { startedAt: 5, endedAt: 9, loadMs: 400, coldStart: true } }],
    ["ok with logs", { value: [1], bytes: 3, logs: ["hello", "world"] }],
    ["ok with logs and no value", { logs: ["only logged"] }],
    ["a user error with logs", { ok: false, error: { kind: "user", name: "TypeError", message: "boom", stack: "TypeError: boom\n    at map (job.ts:3:9)" }, logs: ["before the throw"] }],
    ["a transient error", { ok: false, error: { kind: "transient", name: "Error", message: "EIO", code: "EIO" } }],
    ["a timeout", { ok: false, error: { kind: "timeout", name: "ChunkTimeoutError", message: "chunk 7 timed out after 1 s (worker side)" } }],
  ])("%s round-trips", (_name, over) => {
    const r = reply(over);
    expect(overTheWire(r)).toStrictEqual(r);
  });

  it("leaves out what the parent knows: run id, worker and empty logs", () => {
    const wire = JSON.stringify(encodeReply(reply({ value: 1, bytes: 1 })));
    expect(wire).not.toContain("run-1");
    expect(wire).not.toContain("local-42");
    expect(encodeReply(reply({}))).toHaveLength(7);
  });

  it("takes the run id and worker from the parent", () => {
    const r = decodeReply(encodeReply(reply({ value: 1, bytes: 1 })), "run-other", { platform: "local", id: "local-7" });
    expect(r.runId).toBe("run-other");
    expect(r.worker).toStrictEqual({ platform: "local", id: "local-7" });
  });
});

describe("local protocol: attemptKey", () => {
  it("gives every (index, attempt) its own number", () => {
    const seen = new Set<number>();
    for (let index = 0; index < 300; index++) for (let attempt = 1; attempt <= 20; attempt++) seen.add(attemptKey(index, attempt));
    expect(seen.size).toBe(300 * 20);
  });

  it("is index * 4096 + attempt", () => {
    expect(attemptKey(0, 1)).toBe(1);
    expect(attemptKey(3, 2)).toBe(3 * 4096 + 2);
    expect(attemptKey(99_999, 4095)).toBe(99_999 * 4096 + 4095);
  });
});
