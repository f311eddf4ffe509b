import { fileURLToPath } from "node:url";
import type { Ora } from "ora";
import type { Progress, RemoteError, RunSummary } from "../src/types.js";
import { fmtMs } from "../src/util/format.js";

export function progressLine(p: Progress): string {
  const eta = p.etaSec === undefined ? "" : ` · ETA ${fmtMs(p.etaSec * 1000)}`;
  const extra = [p.retries ? `${p.retries} retried` : "", p.speculated ? `${p.speculated} speculated` : "", p.limit !== undefined ? `throttled: limit ${p.limit}` : ""].filter(Boolean).join(" · ");
  // Running chunks' ctx.progress shows as a fraction of a chunk: movement before the first one ends.
  const done = p.partial ? (p.done + p.partial).toFixed(1) : String(p.done);
  return `${done}/${p.total} done · ${p.running} running · ${p.failed} failed · ${p.rate.toFixed(p.rate < 10 ? 1 : 0)}/s${eta}${extra ? ` · ${extra}` : ""}`;
}

/**
 * Set when stderr's reader has gone (`fanout run ... 2>&1 >/dev/null | head -2`): progress and
 * summary stop, the run goes on. stderr is for people; losing it must not fail a run.
 */
let stderrGone = false;
process.stderr.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
  stderrGone = true;
});

/** A line for people on stderr, unless nobody reads it any more. */
export function say(line: string): void {
  if (!stderrGone) process.stderr.write(`${line}\n`);
}

/**
 * Progress on stderr: a spinner on a terminal, plain lines (at most one every 2 s, plus the
 * last) when stderr is a file or a CI log.
 */
export class ProgressView {
  private spinner: Ora | undefined;
  private lastPlain = 0;
  private last: Progress | undefined;
  constructor(
    private readonly enabled: boolean,
    // A terminal that reports no width (some pseudo-terminals) would make the spinner's
    // line-wrap arithmetic clear thousands of lines per frame: use plain lines there.
    private tty = Boolean(process.stderr.isTTY) && (process.stderr.columns ?? 0) >= 20,
  ) {}

  /** ora is imported only when a spinner will show: it is a tenth of the CLI's start-up. */
  async start(text: string): Promise<void> {
    if (!this.enabled) return;
    if (!this.tty) {
      say(text);
      return;
    }
    const { default: ora } = await import("ora");
    // discardStdin would put the terminal in raw mode, where Ctrl-C is a byte, not SIGINT;
    // its reader never starts on Node 20, so the keypress was lost altogether.
    const spinner = ora({ text, stream: process.stderr, discardStdin: false });
    // ora draws nothing where it judges the terminal not interactive (CI set, TERM=dumb).
    if (spinner.isEnabled) this.spinner = spinner.start();
    else {
      this.tty = false;
      process.stderr.write(`${text}\n`);
    }
  }

  update = (p: Progress): void => {
    this.last = p;
    if (!this.enabled) return;
    const line = progressLine(p);
    if (this.spinner) this.spinner.text = line;
    else if (Date.now() - this.lastPlain >= 2000) {
      this.lastPlain = Date.now();
      say(line);
    }
  };

  stop(ok: boolean): void {
    if (!this.enabled) return;
    const line = this.last ? progressLine(this.last) : "";
    if (this.spinner) {
      if (ok) this.spinner.succeed(line);
      else this.spinner.fail(line);
      this.spinner = undefined;
    } else if (line) say(line);
  }

  /** A notice that must not be overwritten by the spinner. */
  notice(line: string): void {
    if (!this.enabled) return;
    if (this.spinner) {
      this.spinner.clear();
      say(line);
      this.spinner.render();
    } else say(line);
  }
}

export function summaryLines(s: RunSummary): string[] {
  const ok = s.failed === 0 && s.status === "succeeded";
  return [
    `${ok ? "done" : s.status}: run ${s.runId} · ${s.succeeded}/${s.chunks} chunks ok${s.failed ? ` · ${s.failed} failed` : ""} on ${s.backend}`,
    `  wall ${fmtMs(s.wallMs)} · sum of chunk times ${fmtMs(s.sumChunkMs)} · speedup ${s.speedup.toFixed(1)}x at concurrency ${s.concurrency}`,
    `  chunk p50 ${fmtMs(s.chunkMs.p50)} · p95 ${fmtMs(s.chunkMs.p95)} · max ${fmtMs(s.chunkMs.max)} · retries ${s.retries} · speculated ${s.speculated} (${s.speculationWins} won)${s.skipped ? ` · ${s.skipped} resumed from the store` : ""} · cold starts ${s.coldStarts}`,
    ...platformLines(s),
    ...(s.output ? [`  output ${s.output.location} · ${s.output.objects} object${s.output.objects === 1 ? "" : "s"} · ${s.output.bytes} bytes`] : []),
    ...(s.memory ? [`  peak memory p50 ${s.memory.p50Mb} MB · p95 ${s.memory.p95Mb} MB · max ${s.memory.maxMb} MB of ${s.memory.limitMb} MB`] : []),
    ...(s.deps ? [depsLine(s.deps)] : []),
  ];
}

/** What the platform imposed and what speculation cost: only when there is something to say. */
/** The run's external packages: locally imported as installed; on Lambda from an archive each new environment unpacks. */
function depsLine(d: NonNullable<RunSummary["deps"]>): string {
  const names = d.packages.join(", ");
  if (!d.platform) return `  native packages ${names}: imported from the project's node_modules`;
  const mb = (b = 0) => `${(b / 1048576).toFixed(1)} MB`;
  return `  native packages ${names} for ${d.platform}: archive ${mb(d.packedBytes)} (${mb(d.unpackedBytes)} unpacked) · fetched, checked and unpacked by ${d.unpacks} new environment${d.unpacks === 1 ? "" : "s"}, slowest ${fmtMs(d.unpackMaxMs)}`;
}

function platformLines(s: RunSummary): string[] {
  const parts: string[] = [];
  if (s.throttle) parts.push(`throttled ${s.throttle.throttled}x · in-flight limit found ${s.throttle.limitFound} of ${s.throttle.ceiling}`);
  if (s.speculation) parts.push(`speculative copies ${s.speculation.copies} (${s.speculation.won} won) · time of lost copies ${fmtMs(s.speculation.lostMs)}`);
  if (s.stoppedEarly) parts.push(`attempts stopped early ${s.stoppedEarly}`);
  for (const e of s.escalated ?? []) parts.push(`${e.chunks} chunk${e.chunks === 1 ? "" : "s"} escalated ${e.fromMb}→${e.toMb} MB (out of memory, --oom-retry)`);
  return parts.length ? [`  ${parts.join(" · ")}`] : [];
}

/** The first stack frame in the user's code, to name where a chunk failed in one line. */
const OWN_CODE = fileURLToPath(new URL("../..", import.meta.url)) + "dist/";

export function userFrame(e: RemoteError): string | undefined {
  const frames = (e.stack ?? "").split("\n").slice(1);
  for (const f of frames) {
    // Skip Node's internals, dependencies, fanout's own code and its job entry in the bundle.
    if (/node:internal|node_modules|\/src\/job\/index\.ts/.test(f) || f.includes(OWN_CODE)) continue;
    const m = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(f.trim());
    if (m) return m[1]!.replace(/^file:\/\//, "").replace(process.cwd() + "/", "");
  }
  return undefined;
}
