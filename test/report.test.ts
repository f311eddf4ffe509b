import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type AttemptRecord, type RunSummary } from "fanout";
import { classifyAttempts, countOutcomes, type DisplayOutcome } from "../dist/src/report/classify.js";
import { renderReport } from "../dist/src/report/report.js";
import { escapeHtml } from "../dist/src/report/text.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const haveBrowser = fs.existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: the report's browser tests must run in CI`);
const browserIt = haveBrowser ? it : it.skip;
if (!haveBrowser) console.warn(`report.test: ${CHROMIUM} not found (and CI is not set): skipping the browser checks`);

// 24 chunks of 40 ms: chunk 3 throws on its first attempt (retried, as retryErrors is on);
// chunk 17's first attempt takes 4 s, so the executor reruns it speculatively and the copy wins.
const JOB = `import { defineJob } from "fanout";
import { setTimeout as sleep } from "node:timers/promises";
export default defineJob({
  input: () => Array.from({ length: 24 }, (_, i) => i),
  async map([i], ctx) {
    if (i === 3 && ctx.attempt === 1) throw new Error("first try of <chunk 3> fails & is retried");
    await sleep(i === 17 && ctx.attempt === 1 ? 4000 : 40, undefined, { signal: ctx.signal }).catch(() => {});
    return i * 2;
  },
  reduce: (r) => r.reduce((a, b) => a + b, 0),
  defaults: { retryErrors: true, chunks: 24 },
});
`;

let dir: string;
let res: { result: number; summary: RunSummary; attempts: AttemptRecord[] };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-report-"));
  fs.writeFileSync(path.join(dir, "mixed.ts"), JOB);
  res = await run<number>(path.join(dir, "mixed.ts"), { store: path.join(dir, "store"), concurrency: 8, cwd: dir });
}, 120_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function expectedCounts(attempts: readonly AttemptRecord[]): Record<DisplayOutcome, number> {
  return countOutcomes(classifyAttempts(attempts));
}

async function openInBrowser(file: string, fn: (page: import("playwright-core").Page, blocked: string[]) => Promise<void>) {
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const blocked: string[] = [];
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.route("**", (r) => {
      const url = r.request().url();
      if (url.startsWith("file:")) return r.continue();
      blocked.push(url);
      return r.abort();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    await fn(page, blocked);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}

describe("the run report", () => {
  it("the real run has ok, retried and speculative attempts, classified as such", () => {
    expect(res.result).toBe(2 * ((23 * 24) / 2));
    const a = res.attempts;
    const c = expectedCounts(a);
    // chunk 3: a failed first attempt followed by an ok one
    const three = a.filter((x) => x.index === 3).sort((x, y) => x.attempt - y.attempt);
    expect(three.map((x) => x.outcome)).toEqual(["user", "ok"]);
    expect(classifyAttempts(three)).toEqual(["retried", "ok"]);
    expect(c.retried).toBe(1);
    expect(c.failed).toBe(0);
    // chunk 17: a speculative copy that won, the original cancelled
    const seventeen = a.filter((x) => x.index === 17);
    expect(seventeen.some((x) => x.speculative && x.won)).toBe(true);
    expect(c.speculative).toBeGreaterThanOrEqual(1);
    expect(c.cancelled).toBeGreaterThanOrEqual(1);
    expect(c.ok + c.speculative).toBe(24);
    expect(res.summary.retries).toBe(1);
    expect(res.summary.speculationWins).toBeGreaterThanOrEqual(1);
  });

  it("classifies synthetic attempts", () => {
    const base = { speculative: false, invokedAt: 0, returnedAt: 10, coldStart: false, won: false };
    const attempts: AttemptRecord[] = [
      { ...base, index: 0, attempt: 1, outcome: "ok", won: true },
      { ...base, index: 1, attempt: 1, outcome: "timeout" },
      { ...base, index: 1, attempt: 2, invokedAt: 20, returnedAt: 30, outcome: "ok", won: true },
      { ...base, index: 2, attempt: 1, outcome: "user" },
      { ...base, index: 3, attempt: 1, outcome: "cancelled" },
      { ...base, index: 3, attempt: 2, speculative: true, outcome: "ok", won: true },
      { ...base, index: 4, attempt: 1, outcome: "ok", won: true },
      { ...base, index: 4, attempt: 2, speculative: true, outcome: "ok", won: false },
    ];
    expect(classifyAttempts(attempts)).toEqual(["ok", "retried", "ok", "failed", "cancelled", "speculative", "ok", "cancelled"]);
  });

  it("escapes every text it shows", () => {
    const html = renderReport({
      summary: res.summary,
      attempts: res.attempts,
      title: `<script>alert("t")</script>`,
      job: `jobs/<img src=x onerror=alert(1)>.ts`,
      errors: [{ index: 3, kind: "user", message: `</td><script>alert('e')</script>` }],
      notes: ["a & b"],
    });
    expect(html).not.toContain(`<script>alert`);
    expect(html).not.toContain(`<img src=x`);
    expect(html).toContain("&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;");
    expect(html).toContain("a &amp; b");
    expect(escapeHtml(`<'&">`)).toBe("&lt;&#39;&amp;&quot;&gt;");
    // self-contained: nothing is fetched
    expect(html).not.toMatch(/\b(?:src|href)=["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);
  });

  browserIt("renders the real run in Chromium with one bar per attempt, offline", async () => {
    const out = path.join(ROOT, "test-results");
    fs.mkdirSync(out, { recursive: true });
    const file = path.join(out, "report.html");
    fs.writeFileSync(file, renderReport({ summary: res.summary, attempts: res.attempts, job: "mixed.ts" }));
    const want = expectedCounts(res.attempts);
    await openInBrowser(file, async (page, blocked) => {
      expect(await page.locator('[data-testid="bar"]').count()).toBe(res.attempts.length);
      for (const o of Object.keys(want) as DisplayOutcome[]) {
        expect(await page.locator(`[data-testid="bar"][data-outcome="${o}"]`).count(), o).toBe(want[o]);
      }
      expect(await page.locator('[data-testid="summary"]').count()).toBe(1);
      expect(await page.locator('[data-testid="summary-row"]').count()).toBeGreaterThanOrEqual(18);
      expect(await page.locator('[data-testid="summary-row"][data-key="chunks"]').getAttribute("data-value")).toBe("24");
      expect(await page.locator('[data-testid="summary-row"][data-key="chunks"] td').innerText()).toBe("24");
      expect(await page.locator('[data-testid="legend"] [data-legend]').count()).toBeGreaterThanOrEqual(8);
      expect(Number(await page.locator('[data-testid="concurrency"]').getAttribute("data-peak"))).toBeGreaterThan(1);
      const hist = await page.locator('[data-testid="hist-bin"]').evaluateAll((els) => els.reduce((n, e) => n + Number(e.getAttribute("data-count")), 0));
      expect(hist).toBe(24);
      // The tooltip shows the bar under the pointer.
      const bar = page.locator('[data-testid="bar"][data-index="3"][data-attempt="1"]');
      await bar.hover({ force: true });
      await expect.poll(() => page.locator("#tip").innerText()).toContain("chunk 3");
      await page.mouse.move(1, 1);
      await page.screenshot({ path: path.join(out, "report.png"), fullPage: true });
      expect(blocked).toEqual([]);
    });
  });

  browserIt("renders 5,000 chunks quickly", async () => {
    const n = 5000;
    const t0 = 1_700_000_000_000;
    const attempts: AttemptRecord[] = [];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < n; i++) {
      const inv = t0 + Math.floor(i / 500) * 900 + rnd() * 50;
      const st = inv + 5 + rnd() * 20;
      const en = st + 300 + rnd() * 400 + (i % 97 === 0 ? 2000 : 0);
      const failedFirst = i % 251 === 0;
      if (failedFirst) attempts.push({ index: i, attempt: 1, speculative: false, invokedAt: inv, startedAt: st, endedAt: st + 50, returnedAt: st + 55, coldStart: i < 2, outcome: "crash", won: false });
      const inv2 = failedFirst ? st + 300 : inv;
      attempts.push({ index: i, attempt: failedFirst ? 2 : 1, speculative: false, invokedAt: inv2, startedAt: st, endedAt: en, returnedAt: en + 3, coldStart: false, outcome: i % 97 === 0 ? "cancelled" : "ok", won: i % 97 !== 0 });
      if (i % 97 === 0) attempts.push({ index: i, attempt: 3, speculative: true, invokedAt: st + 800, startedAt: st + 805, endedAt: st + 1200, returnedAt: st + 1203, coldStart: false, outcome: "ok", won: true });
    }
    const times = attempts.filter((a) => a.won).map((a) => a.endedAt! - a.startedAt!).sort((a, b) => a - b);
    const summary: RunSummary = {
      runId: "20261127T000000Z-synth5",
      backend: "aws",
      status: "succeeded",
      chunks: n,
      succeeded: n,
      failed: 0,
      skipped: 0,
      retries: attempts.filter((a) => a.outcome === "crash").length,
      speculated: attempts.filter((a) => a.speculative).length,
      speculationWins: attempts.filter((a) => a.speculative && a.won).length,
      coldStarts: 2,
      concurrency: 500,
      wallMs: 10_000,
      dispatchMs: 9_000,
      sumChunkMs: times.reduce((a, b) => a + b, 0),
      speedup: times.reduce((a, b) => a + b, 0) / 10_000,
      chunkMs: { p50: times[n / 2]!, p95: times[Math.floor(n * 0.95)]!, p99: times[Math.floor(n * 0.99)]!, max: times[n - 1]! },
    };
    const t = Date.now();
    const html = renderReport({ summary, attempts });
    const renderMs = Date.now() - t;
    expect(renderMs).toBeLessThan(3000);
    const file = path.join(ROOT, "test-results", "report-5000.html");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, html);
    const want = expectedCounts(attempts);
    await openInBrowser(file, async (page, blocked) => {
      const t1 = Date.now();
      const bars = await page.locator('[data-testid="bar"]').count();
      expect(bars).toBe(attempts.length);
      expect(bars).toBeGreaterThanOrEqual(5000);
      expect(await page.locator('[data-testid="bar"][data-outcome="speculative"]').count()).toBe(want.speculative);
      expect(await page.locator('[data-testid="bar"][data-outcome="retried"]').count()).toBe(want.retried);
      expect(await page.locator('[data-testid="summary-row"][data-key="chunks"]').getAttribute("data-value")).toBe("5000");
      await page.screenshot({ path: path.join(ROOT, "test-results", "report-5000.png"), fullPage: false });
      expect(Date.now() - t1).toBeLessThan(20_000);
      expect(blocked).toEqual([]);
    });
  });
});
