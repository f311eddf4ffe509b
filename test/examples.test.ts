import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fanout, ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

// Every example through the real CLI, on the local backend, against answers known in advance.
const STORE = tmpDir("examples");
afterAll(() => rmDir(STORE));

async function runJson(job: string, args: string[], env: Record<string, string> = {}) {
  const r = await fanout(["run", job, "--store", STORE, "-q", ...args], { env });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as unknown;
}

/** The sequential reference for examples/wordcount.ts: same tokenizer, same ordering. */
function sequentialWordcount(text: string): Record<string, number> {
  const lines = text.length === 0 ? [] : text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  const counts: Record<string, number> = {};
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    for (const w of line.toLowerCase().split(/[^\p{L}\p{N}']+/u)) if (w) counts[w] = (counts[w] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
}

describe("examples on the local backend, through the CLI", () => {
  it("primes.ts counts 664579 primes below 10^7", async () => {
    expect(await runJson("examples/primes.ts", ["--chunks", "64"])).toBe(664579);
  });

  it("primes.ts gives the known counts for other limits, whatever the chunking", async () => {
    expect(await runJson("examples/primes.ts", ["--chunks", "7"], { FANOUT_PRIMES_LIMIT: "1000" })).toBe(168);
    expect(await runJson("examples/primes.ts", ["--chunks", "1"], { FANOUT_PRIMES_LIMIT: "100000" })).toBe(9592);
    expect(await runJson("examples/primes.ts", ["--chunks", "33"], { FANOUT_PRIMES_LIMIT: "100000" })).toBe(9592);
  });

  it("primes.ts with more chunks than integers uses fewer chunks and says so", async () => {
    // range(2, 50) holds 48 integers; 15 primes lie below 50.
    const r = await fanout(["run", "examples/primes.ts", "--chunks", "100", "--store", STORE, "--json"], {
      env: { FANOUT_PRIMES_LIMIT: "50" },
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { result: number; summary: { chunks: number; succeeded: number } };
    expect(out.result).toBe(15);
    expect(out.summary.chunks).toBe(48);
    expect(out.summary.succeeded).toBe(48);
    expect(r.stderr).toContain("the input has only 48 integers, so 48 chunks are used instead of 100");
  });

  it("pi.ts gives the identical estimate for 7 and 360 chunks, within 1e-3 of pi", async () => {
    const a = (await runJson("examples/pi.ts", ["--chunks", "7"])) as number;
    const b = (await runJson("examples/pi.ts", ["--chunks", "360"])) as number;
    expect(typeof a).toBe("number");
    expect(b).toBe(a);
    expect(Math.abs(a - Math.PI)).toBeLessThan(1e-3);
    // The same holds for another sample count, including an uneven split.
    const env = { FANOUT_PI_SAMPLES: "1000003" };
    const c = await runJson("examples/pi.ts", ["--chunks", "1"], env);
    const d = await runJson("examples/pi.ts", ["--chunks", "97"], env);
    expect(d).toBe(c);
  });

  it("wordcount.ts equals a sequential count of examples/data/words.txt", async () => {
    const expected = sequentialWordcount(fs.readFileSync(path.join(ROOT, "examples/data/words.txt"), "utf8"));
    for (const chunks of ["1", "16"]) {
      const got = await runJson("examples/wordcount.ts", ["--chunks", chunks]);
      // Same counts and the same (count, word) order.
      expect(JSON.stringify(got)).toBe(JSON.stringify(expected));
    }
  });

  it("wordcount.ts equals a sequential count of an awkward file (CRLF, blank lines, multibyte, long lines, no final newline)", async () => {
    const words = ["naïve", "café", "日本語", "don't", "Ωmega", "x", "the", "THE", "The", "12ab", "ünïcödé", "🙂smile"];
    const lines: string[] = [];
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (let i = 0; i < 400; i++) {
      const len = rnd(5) === 0 ? 0 : 1 + rnd(12);
      lines.push(Array.from({ length: len }, () => words[rnd(words.length)]).join(rnd(3) === 0 ? ",  " : " "));
    }
    // Two lines longer than 64 KiB, so a chunk must read past its first tail window.
    lines.splice(100, 0, Array.from({ length: 15000 }, (_, i) => words[i % words.length]).join(" "));
    lines.splice(300, 0, "é".repeat(40000) + " end");
    const text = lines.map((l, i) => (i % 3 === 0 ? `${l}\r` : l)).join("\n"); // no final newline
    const file = path.join(STORE, "awkward.txt");
    fs.writeFileSync(file, text);
    const expected = JSON.stringify(sequentialWordcount(text));
    for (const chunks of ["1", "7", "64"]) {
      const got = await runJson("examples/wordcount.ts", ["--chunks", chunks], { FANOUT_WORDCOUNT_FILE: file });
      expect(JSON.stringify(got)).toBe(expected);
    }
  });

  it("sleep.ts returns { items, msEach } for small waits", async () => {
    const env = { FANOUT_SLEEP_MS: "20", FANOUT_SLEEP_ITEMS: "30" };
    expect(await runJson("examples/sleep.ts", ["--chunks", "6"], env)).toEqual({ items: 30, msEach: 20 });
    // More chunks than items: one item per chunk.
    const r = await fanout(["run", "examples/sleep.ts", "--store", STORE, "--json"], { env: { FANOUT_SLEEP_MS: "5", FANOUT_SLEEP_ITEMS: "12" } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { result: unknown; summary: { chunks: number } };
    expect(out.result).toEqual({ items: 12, msEach: 5 });
    expect(out.summary.chunks).toBe(12);
    expect(r.stderr).toContain("the input has only 12 items, so 12 chunks are used instead of 360");
  });

  it("--json prints one { result, summary } object whose summary matches the run", async () => {
    const r = await fanout(["run", "examples/primes.ts", "--chunks", "5", "--store", STORE, "--json", "-q"], {
      env: { FANOUT_PRIMES_LIMIT: "1000" },
    });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const out = JSON.parse(r.stdout) as { result: number; summary: Record<string, unknown> };
    expect(out.result).toBe(168);
    expect(out.summary).toMatchObject({ status: "succeeded", chunks: 5, succeeded: 5, failed: 0, skipped: 0, backend: "local" });
    expect(fs.existsSync(path.join(STORE, "runs", out.summary.runId as string, "manifest.json"))).toBe(true);
  });
});
