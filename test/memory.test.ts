// Peak memory per attempt: a chunk that holds ~100 MB reports a peak between 100 MB and its
// setting, the summary gives p50/p95/max against the setting, the report shows it per attempt,
// and a run that used under 40% of its memory is told what a smaller setting would save.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "fanout";
import { fanout, ROOT } from "./helpers/cli.js";
import { rmDir, tmpDir } from "./helpers/tmp.js";

const STORE = tmpDir("memory");
afterAll(() => rmDir(STORE));

describe("peak memory", () => {
  it("a ~100 MB chunk peaks between 100 MB and the limit; summary, notice and report show it", async () => {
    const report = path.join(STORE, "report.html");
    const res = await fanout(["run", "test/fixtures/vars/memory.ts", "--store", STORE, "--memory", "1024", "--json", "--report", report]);
    expect(res.code).toBe(0);
    const { result, summary } = JSON.parse(res.stdout) as { result: number[]; summary: { memory: { p50Mb: number; p95Mb: number; maxMb: number; limitMb: number } } };
    expect(result).toEqual([104857600, 104857600]);
    const m = summary.memory;
    expect(m.limitMb).toBe(1024);
    expect(m.p50Mb).toBeGreaterThanOrEqual(100);
    expect(m.p50Mb).toBeLessThanOrEqual(m.p95Mb);
    expect(m.p95Mb).toBeLessThanOrEqual(m.maxMb);
    expect(m.maxMb).toBeLessThan(1024);
    expect(res.stderr).toContain(`peak memory p50 ${m.p50Mb} MB · p95 ${m.p95Mb} MB · max ${m.maxMb} MB of 1024 MB`);
    // Under 40% of 1024 MB: the notice names a smaller setting (half again over the peak, in 64 MB steps).
    const smaller = Math.max(128, Math.ceil((m.maxMb * 1.5) / 64) * 64);
    expect(res.stderr).toContain(`memory: workers peaked at ${m.maxMb} MB of 1024 MB`);
    expect(res.stderr).toContain(`--memory ${smaller} would bill ${Math.round((1 - smaller / 1024) * 100)}% less per chunk-second on Lambda`);
    const html = fs.readFileSync(report, "utf8");
    const bars = [...html.matchAll(/data-mem="(\d+) MB RSS · (\d+) MB heap"/g)];
    expect(bars).toHaveLength(2);
    for (const [, rss, heap] of bars) {
      expect(Number(rss)).toBeGreaterThanOrEqual(100);
      expect(Number(heap)).toBeLessThanOrEqual(Number(rss));
    }
    expect(html).toContain(`data-key="peakMemoryMb" data-value="${m.maxMb}"`);
  });

  it("a run that uses most of its memory gets no notice", async () => {
    const res = await fanout(["run", "test/fixtures/vars/memory.ts", "--store", STORE, "--memory", "256", "--json"]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).summary.memory.limitMb).toBe(256);
    expect(res.stderr).not.toContain("memory: workers peaked");
  });

  it("a cancelled run gives no memory advice; the same run left to finish does", async () => {
    const notices = async (cancel: boolean) => {
      const seen: string[] = [];
      const ac = new AbortController();
      const r = run("test/fixtures/faults/slow.ts", {
        store: STORE,
        cwd: ROOT,
        chunks: 8,
        concurrency: 2,
        memory: 1024,
        speculate: false,
        signal: ac.signal,
        onNotice: (n) => seen.push(n),
        onProgress: (p) => {
          if (cancel && p.done >= 2) ac.abort();
        },
      });
      if (cancel) await expect(r).rejects.toThrow(/cancel/i);
      else await r;
      return seen.filter((n) => n.startsWith("memory: workers peaked"));
    };
    expect(await notices(false)).toHaveLength(1);
    expect(await notices(true)).toEqual([]);
  }, 60_000);
});
