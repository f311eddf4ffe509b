// `fanout run <job>`: flags to RunOptions, progress on stderr, the result on stdout.
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { ChunkFailedError, FanoutError, UsageError } from "../../src/errors.js";
import { allowedFailures, checkBackend, memoryTiers, nonNegativeInt, parseEnvFlag, parseSecretFlag, positiveInt, positiveNumber, type BackendName, type MaxFailures } from "../../src/options.js";
import type { RunOptions } from "../../src/run/types.js";
import type { AttemptRecord, RunSummary } from "../../src/types.js";
import { followUpFlags, logsCmd, resumeCmd, type RunRef } from "../../src/util/follow-up.js";
import { addBackendOptions, awsOptionsFrom, flag, writeStdout, type BackendFlags } from "../common.js";
import { errorJson } from "../errors.js";
import { ProgressView, say, summaryLines } from "../render.js";

const EXAMPLES_RUN = `
Examples:
  $ fanout run examples/pi.ts --chunks 360
  $ fanout run job.ts --chunks 1000 --concurrency 200 --json > out.json
  $ fanout run job.ts --chunks 360 --backend aws --region eu-west-1 --memory 1769
  $ fanout run job.ts --backend aws --memory 1024 --oom-retry   (an OOM chunk reruns on the next deployed tier)
  $ fanout run job.ts --resume 20261127T044612Z-k3j9xq
  $ fanout run job.ts --env-file .env --env LOG_LEVEL=debug --secret API_KEY=ssm:/myapp/api-key
  $ fanout run job.ts --resume 20261127T044612Z-k3j9xq --rebuild   (after fixing a failed chunk's bug)
  $ fanout run job.ts --chunks 1000 --max-failures 1%   (finish with up to 10 gaps; exit 4 if any)

Output:
  The result (reduce's value, or the array of map results) is printed as JSON on stdout.
  Progress, the run id and a closing summary go to stderr. With --json, stdout gets one
  object: { "result": ..., "summary": ... }; when the run fails, { "error": ..., "summary": ... }
  (summary is null if the run never started), with the same exit status.

Exit status:
  0 success · 1 a chunk or reduce failed · 2 bad input (flags, job file, run id)
  3 missing setup (AWS credentials, stack not deployed) · 4 partial: some chunks failed,
  no more than --max-failures allows (the result is printed; stderr names them)
  130 cancelled (Ctrl-C, or \`fanout cancel <runId>\` from elsewhere)
  Finished chunks are always kept in the store; --resume <runId> runs only the rest, and
  --resume <runId> --rebuild runs the rest with the job as it is now (same input and chunks).
  --report is written for every run that started, failed and cancelled ones too.`;

interface RunFlags extends BackendFlags {
  chunks?: string;
  concurrency?: string;
  timeout?: string;
  retries?: string;
  memory?: string;
  oomRetry?: boolean;
  speculate?: boolean;
  processes?: string;
  resume?: string;
  rebuild?: boolean;
  maxFailures?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  report?: string;
  env?: string[];
  envFile?: string;
  secret?: string[];
  detach?: boolean;
  output?: string;
  inputRun?: string;
}

/** Commander's way to take a flag more than once. */
const collect = (value: string, list: string[] = []): string[] => [...list, value];

/** The variables of --env-file, then each --env over them. */
function envFrom(flags: RunFlags): Record<string, string> | undefined {
  let env: Record<string, string> | undefined;
  if (flags.envFile) {
    let text: string;
    try {
      text = readFileSync(flags.envFile, "utf8");
    } catch {
      throw new UsageError(`--env-file not found: ${flags.envFile}`, `check the path (it is resolved from ${process.cwd()})`);
    }
    env = { ...parseEnv(text) } as Record<string, string>;
    for (const [k, v] of Object.entries(env)) parseEnvFlag(`${k}=${v}`);
  }
  for (const e of flags.env ?? []) {
    const [k, v] = parseEnvFlag(e);
    (env ??= {})[k] = v;
  }
  return env;
}

function secretsFrom(flags: RunFlags): Record<string, string> | undefined {
  if (!flags.secret?.length) return undefined;
  return Object.fromEntries(flags.secret.map(parseSecretFlag));
}

function runOptionsFrom(flags: RunFlags): RunOptions & { backend: BackendName } {
  const backend = checkBackend(flags.backend);
  const chunks = flag(positiveInt, "chunks", flags.chunks);
  const concurrency = flag(positiveInt, "concurrency", flags.concurrency);
  const retries = flag(nonNegativeInt, "retries", flags.retries);
  const memory = flags.memory === undefined ? undefined : memoryTiers(flags.memory);
  const processes = flag(positiveInt, "processes", flags.processes);
  const timeout = flag(positiveNumber, "timeout", flags.timeout);
  const env = envFrom(flags);
  const secrets = secretsFrom(flags);
  if (flags.maxFailures !== undefined) allowedFailures(flags.maxFailures);
  return {
    backend,
    ...(chunks !== undefined ? { chunks } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(memory !== undefined ? { memory: memory.length === 1 ? memory[0]! : memory } : {}),
    ...(flags.oomRetry ? { oomRetry: true } : {}),
    ...(processes !== undefined ? { processes } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(flags.speculate === false ? { speculate: false } : {}),
    ...(flags.store ? { store: flags.store } : {}),
    ...(flags.resume ? { resume: flags.resume } : {}),
    ...(flags.rebuild ? { rebuild: true } : {}),
    ...(flags.output !== undefined ? { output: flags.output } : {}),
    ...(flags.inputRun !== undefined ? { inputRun: flags.inputRun } : {}),
    ...(env ? { env } : {}),
    ...(secrets ? { secrets } : {}),
    ...(flags.maxFailures !== undefined ? { maxFailures: flags.maxFailures.trim() as MaxFailures } : {}),
    aws: awsOptionsFrom(flags),
  };
}

export function registerRun(program: Command): void {
  const runCmd = program
    .command("run")
    .description("run a job module over --chunks chunks and print its result")
    .argument("<job>", "the job module (.ts or .js) whose default export is defineJob({...})")
    .option("-n, --chunks <n>", "split the input into n chunks (default: the job's, else 100)")
    .option("-c, --concurrency <n>", "chunks in flight at once (default: all, up to 1000)")
    .option("-t, --timeout <seconds>", "per-chunk timeout (default: the job's, else 300)")
    .option("-r, --retries <n>", "retries of crashed, timed-out or throttled chunks (default 2)")
    .option("-m, --memory <mb>", "worker memory in MB: a deployed Lambda memory tier, or the V8 heap cap locally (default 1024); a list 512,2048 names the tiers --oom-retry may climb")
    .option("--oom-retry", "rerun a chunk that runs out of memory on the next memory tier up (the stack's deployed tiers; locally a process with a larger heap)")
    .option("--no-speculate", "do not rerun stragglers (on by default for 20+ chunks)")
    .option("--processes <n>", "local worker processes (default: one per core)")
    .option("--resume <runId>", "continue a run: only chunks without a stored result run again")
    .option("--rebuild", "with --resume: run the rest with the job's new build (a fixed bug), keeping finished results")
    .option("-e, --env <NAME=value>", "set a variable in the workers' process.env while each chunk runs (repeatable; over the job's defaults.env)", collect)
    .option("--env-file <file>", "variables from a .env file, as --env (each --env overrides it)")
    .option("--secret <NAME=ref>", "a variable the workers read with their own role: NAME=ssm:/parameter/path or NAME=secretsmanager:<name or ARN> (repeatable)", collect)
    .option("-o, --output <location>", "where ctx.write puts objects: s3://bucket/prefix/ (any backend) or ./folder (local); at <location>/<runId>/<chunk>/<name>, only for chunks that succeed")
    .option("--input-run <runId>", "use that finished run's results as the input, one item per chunk result (as fromRun(runId) in the job); the workers read them from the store")
    .option("--max-failures <n|p%>", "finish the run though up to n chunks (or p% of them) fail: status partial, exit 4, reduce sees the gaps")
    .option("--json", "print { result, summary } as one JSON object on stdout")
    .option("--report <file.html>", "write a self-contained HTML report of the run")
    .option("-q, --quiet", "no progress or summary on stderr")
    .option("--detach", "start the run in a background process and exit at once; follow it with `fanout attach <runId>`");
  addBackendOptions(runCmd).addHelpText("after", EXAMPLES_RUN).action(runAction);
}

async function runAction(job: string, flags: RunFlags): Promise<void> {
  if (flags.detach) return detachAction(job, flags);
  const view = new ProgressView(!flags.quiet);
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    view.notice("cancelling: stopping dispatch and in-flight chunks (Ctrl-C again to quit at once)");
    ac.abort(new Error("interrupted (SIGINT)"));
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  let partial: RunSummary | undefined;
  try {
    const res = await showOutcome(view, flags, async () => {
      // A bad flag, too, is a failure --json reports.
      const opts = runOptionsFrom(flags);
      await view.start(`fanout: bundling ${job}`);
      const { run } = await import("../../src/run/run.js");
      return run(job, { ...opts, signal: ac.signal, onProgress: view.update, onNotice: (line) => view.notice(line) });
    });
    partial = res.summary.status === "partial" ? res.summary : undefined;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  // After the result is out: main prints this one line naming the gaps, and exits 4.
  if (partial) throw partialRun(partial, { runId: partial.runId, jobPath: job, flags: followUpFlags(partial.backend, flags.store) });
}

/** A run that finished with gaps --max-failures allowed: the chunks that failed and how to run them again. */
function partialRun(s: RunSummary, ref: RunRef): FanoutError {
  const failed = s.failedChunks ?? [];
  const shown = failed.length > 10 ? `${failed.slice(0, 10).join(", ")}, …` : failed.join(", ");
  return new FanoutError("E_PARTIAL", `run ${s.runId} finished partial: ${failed.length} of ${s.chunks} chunks failed (${shown}); the result leaves them out`, {
    hint: `see \`${logsCmd(ref, failed[0])}\`; run only the failed chunks again with: ${resumeCmd(ref)}`,
    exitCode: 4,
  });
}

/** `--detach`: plan and upload here, hand the run to a background driver, print how to attach. */
async function detachAction(job: string, flags: RunFlags): Promise<void> {
  const opts = runOptionsFrom(flags);
  const { submit } = await import("../../src/run/detach.js");
  const { attachCmd, followUpFlags } = await import("../../src/util/follow-up.js");
  const { runId } = await submit(job, { ...opts, onNotice: (line) => !flags.quiet && say(line) });
  if (!flags.quiet) say(`attach: ${attachCmd({ runId, flags: followUpFlags(opts.backend, flags.store) })}`);
  await writeStdout((flags.json ? JSON.stringify({ runId }) : runId) + "\n");
}

type Shown = { result: unknown; summary: RunSummary; attempts: AttemptRecord[] };
type ShowFlags = { report?: string; quiet?: boolean; json?: boolean };

/**
 * What `run` and `attach` print alike once `go` (which starts the progress view) ends: the
 * result, summary and report of a finished run, or of a failed one before its error (rethrown).
 */
export async function showOutcome<R extends Shown>(view: ProgressView, flags: ShowFlags, go: () => Promise<R>): Promise<R> {
  try {
    const res = await go();
    view.stop(true);
    await showResult(res, flags);
    return res;
  } catch (err) {
    view.stop(false);
    await showFailure(err, flags);
    throw err;
  }
}

/** A finished run's report, summary and result. */
async function showResult(res: { result: unknown; summary: RunSummary; attempts: AttemptRecord[] }, flags: { report?: string; quiet?: boolean; json?: boolean }): Promise<void> {
  if (flags.report) await writeReportOf(flags.report, res);
  if (!flags.quiet) for (const l of summaryLines(res.summary)) say(l);
  const out = flags.json ? { result: res.result, summary: res.summary } : res.result;
  await writeStdout(JSON.stringify(out === undefined ? null : out, null, flags.json ? 0 : 2) + "\n");
}

/** A failed or cancelled run's summary, report and JSON, before its error line. */
async function showFailure(err: unknown, flags: ShowFlags): Promise<void> {
  const ran = err instanceof FanoutError && err.summary ? { summary: err.summary, attempts: err.attemptLog ?? [] } : undefined;
  if (err instanceof ChunkFailedError && ran && !flags.quiet) {
    for (const l of summaryLines(ran.summary)) say(l);
  }
  // A failed or cancelled run is when its report and its JSON are wanted most.
  if (flags.report && ran) await writeReportOf(flags.report, ran);
  if (flags.json) await writeStdout(JSON.stringify({ error: errorJson(err), summary: ran?.summary ?? null }) + "\n");
}

async function writeReportOf(file: string, ran: { summary: RunSummary; attempts: AttemptRecord[] }): Promise<void> {
  const { writeReport } = await import("../report-file.js");
  writeReport(file, ran);
}

