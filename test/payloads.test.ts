// Large chunk payloads travel as byte ranges of the run's payloads object (multibyte text
// included), on the local store and on S3, and a resumed run decodes them the same way.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { encodePayloads, sourcesFromPayloads } from "../dist/src/plan/plan.js";
import { ROOT } from "./helpers/cli.js";
import { emulatorForFile } from "./helpers/emulator.js";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-payloads-"));
const emulated = emulatorForFile();
afterAll(() => fs.rmSync(STORE, { recursive: true, force: true }));

const expected = Array.from({ length: 12 }, (_, i) => ({ head: String(i), tail: String(i), length: `${i}:`.length + 4 * (3000 + i) + `:${i}`.length }));

describe("large chunk payloads", () => {
  it("the stored byte ranges decode to the same sources a new run used", () => {
    const lines = ['{"kind":"inline","value":1}', `{"kind":"inline","value":"${"€".repeat(5000)}"}`, '{"kind":"inline","value":[2]}'];
    const sources = [{ kind: "inline", value: 1 }, { kind: "inline", value: "€".repeat(5000) }, { kind: "inline", value: [2] }] as const;
    const made = encodePayloads(lines, [...sources], "runs/x/payloads.jsonl");
    expect(made.sources[0]).toEqual(sources[0]);
    expect(made.sources[1]).toMatchObject({ kind: "stored", key: "runs/x/payloads.jsonl" });
    const s = made.sources[1] as { offset: number; length: number };
    expect(JSON.parse(made.body.subarray(s.offset, s.offset + s.length).toString("utf8"))).toBe("€".repeat(5000));
    expect(sourcesFromPayloads(made.body, "runs/x/payloads.jsonl")).toEqual(made.sources);
  });

  it("on the local backend", async () => {
    const r = await run("test/fixtures/big-items.ts", { chunks: 5, store: STORE, cwd: ROOT });
    expect(r.result).toEqual(expected);
  });

  it("on the emulated AWS stack (ranged GETs from S3)", async () => {
    const r = await run("test/fixtures/big-items.ts", { backend: "emulated", chunks: 5, cwd: ROOT });
    expect(r.result).toEqual(expected);
  });
});
