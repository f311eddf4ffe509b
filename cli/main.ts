import { Command, CommanderError } from "commander";
import { ChunkFailedError, FanoutError, RunAbortedError } from "../src/errors.js";
import { checkBackend, nonNegativeInt, parseDuration, positiveInt, positiveNumber, type BackendName } from "../src/options.js";
import type { RunOptions } from "../src/run/run.js";
import type { AttemptRecord, RunSummary } from "../src/types.js";
import { ProgressView, say, summaryLines, userFrame } from "./render.js";
import { registerAwsCommands } from "./aws-commands.js";
import { registerBench } from "./commands/bench.js";
import { addBackendOptions, awsOptionsFrom, flag, writeStdout } from "./common.js";

const EXAMPLES_RUN = `
Examples:
  $ fanout run examples/pi.ts --chunks 360
  $ fanout run job.ts --chunks 1000 --concurrency 200 --json > out.json
  $ fanout run job.ts --chunks 360 --backend aws --region eu-west-1 --memory 1769
  $ fanout run job.ts --resume 20261127T044612Z-k3j9xq
  $ fanout run job.ts --resume 20261127T044612Z-k3j9xq --rebuild   (after fixing a failed chunk's bug)

Output:
  The result (reduce's value, or the array of map results) is printed as JSON on stdout.
  Progress, the run id and a closing summary go to stderr. With --json, stdout gets one
  object: { "result": ..., "summary": ... }; when the run fails, { "error": ..., "summary": ... }
  (summary is null if the run never started), with the same exit status.

Exit status:
  0 success · 1 a chunk or reduce failed · 2 bad input (flags, job file, run id)
  3 missing setup (AWS credentials, stack not deployed) · 130 cancelled (Ctrl-C)
  Finished chunks are always kept in the store; --resume <runId> runs only the rest, and
  --resume <runId> --rebuild runs the rest with the job as it is now (same input and chunks).
  --report is written for every run that started, failed and cancelled ones too.`;

const DESCRIPTION = [
  "Run one TypeScript module over many chunks at once.",
  "",
  'A job module\'s default export is made with defineJob from "fanout": an input (range, lines, or an array), a map(chunk, ctx) that runs in a worker once per chunk, and an optional reduce(results) that runs here over all results in chunk order. fanout bundles the module with esbuild, stores the bundle, payloads and results in object storage (a local folder, or S3), and runs one worker invocation per chunk: on a pool of local worker processes by default, or on AWS Lambda.',
].join("\n");

interface RunFlags {
  chunks?: string;
  concurrency?: string;
  backend?: string;
  timeout?: string;
  retries?: string;
  memory?: string;
  speculate?: boolean;
  store?: string;
  processes?: string;
  resume?: string;
  rebuild?: boolean;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  report?: string;
  region?: string;
  profile?: string;
  stage?: string;
  function?: string;
  bucket?: string;
}

export function runOptionsFrom(flags: RunFlags): RunOptions & { backend: BackendName } {
  const backend = checkBackend(flags.backend);
  const chunks = flag(positiveInt, "chunks", flags.chunks);
  const concurrency = flag(positiveInt, "concurrency", flags.concurrency);
  const retries = flag(nonNegativeInt, "retries", flags.retries);
  const memory = flag(positiveInt, "memory", flags.memory);
  const processes = flag(positiveInt, "processes", flags.processes);
  const timeout = flag(positiveNumber, "timeout", flags.timeout);
  return {
    backend,
    ...(chunks !== undefined ? { chunks } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(memory !== undefined ? { memory } : {}),
    ...(processes !== undefined ? { processes } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(flags.speculate === false ? { speculate: false } : {}),
    ...(flags.store ? { store: flags.store } : {}),
    ...(flags.resume ? { resume: flags.resume } : {}),
    ...(flags.rebuild ? { rebuild: true } : {}),
    aws: awsOptionsFrom(flags),
  };
}

export function buildProgram(): Command {
  const program = new Command();
  // Set before any subcommand exists: commander copies these settings into each one.
  program.exitOverride();
  program.configureOutput({
    writeErr: (s) => {
      // Commander's own errors are rewritten into our one-line form in main().
      if (!s.startsWith("error:") && !s.startsWith("(run with")) process.stderr.write(s);
    },
  });
  program
    .name("fanout")
    .option("--verbose", "show stacks with errors")
    .description(DESCRIPTION)
    .version(VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      "after",
      `
Examples:
  $ npx fanout run examples/pi.ts --chunks 360       run locally, print the answer
  $ npx fanout run job.ts --chunks 360 --backend aws run on Lambda (after fanout deploy)
  $ npx fanout status                                list runs in the store
  $ npx fanout logs <runId> 7                        log lines and error of chunk 7

Library: import { run, map, defineJob, range, lines } from "fanout"`,
    );

  const runCmd = program
    .command("run")
    .description("run a job module over --chunks chunks and print its result")
    .argument("<job>", "the job module (.ts or .js) whose default export is defineJob({...})")
    .option("-n, --chunks <n>", "split the input into n chunks (default: the job's, else 100)")
    .option("-c, --concurrency <n>", "chunks in flight at once (default: all, up to 1000)")
    .option("-t, --timeout <seconds>", "per-chunk timeout (default: the job's, else 300)")
    .option("-r, --retries <n>", "retries of crashed, timed-out or throttled chunks (default 2)")
    .option("-m, --memory <mb>", "worker memory in MB: Lambda memory, or the V8 heap cap locally (default 1024)")
    .option("--no-speculate", "do not rerun stragglers (on by default for 20+ chunks)")
    .option("--processes <n>", "local worker processes (default: one per core)")
    .option("--resume <runId>", "continue a run: only chunks without a stored result run again")
    .option("--rebuild", "with --resume: run the rest with the job's new build (a fixed bug), keeping finished results")
    .option("--json", "print { result, summary } as one JSON object on stdout")
    .option("--report <file.html>", "write a self-contained HTML report of the run")
    .option("-q, --quiet", "no progress or summary on stderr");
  addBackendOptions(runCmd).addHelpText("after", EXAMPLES_RUN).action(runAction);

  const status = program
    .command("status")
    .description("list runs, or show one run's state and how to resume it")
    .argument("[runId]", "a run id (default: list all runs in the store)")
    .option("--json", "print as JSON");
  // Each command's modules load when it runs, so start-up and --help stay fast.
  addBackendOptions(status).action(async (...a: Parameters<typeof import("./inspect.js").statusCommand>) => (await import("./inspect.js")).statusCommand(...a));

  const logs = program
    .command("logs")
    .description("print the captured log lines and errors of a run's chunks")
    .argument("[runId]", "the run id (default: the latest run)")
    .argument("[chunk]", "only this chunk index");
  addBackendOptions(logs).action(async (...a: Parameters<typeof import("./inspect.js").logsCommand>) => (await import("./inspect.js")).logsCommand(...a));

  program
    .command("gc")
    .description("remove runs of the local store untouched for longer than --older-than, and what only they used")
    .requiredOption("--older-than <duration>", "age of the last write to a run: 30m, 12h, 7d, 2w")
    .option("--dry-run", "list what would be removed, remove nothing")
    .option("--store <dir>", "folder of the local object store (default: .fanout at the project root)")
    .addHelpText("after", "\nExamples:\n  $ npx fanout gc --older-than 7d --dry-run\n  $ npx fanout gc --older-than 12h\nS3 run data expires by itself (fanout deploy --expire-days); `fanout teardown --backend local` empties the local store.\n")
    .action(gcAction);

  registerBench(program);
  registerAwsCommands(program);
  return program;
}

async function gcAction(flags: { olderThan: string; dryRun?: boolean; store?: string }): Promise<void> {
  const olderThanMs = parseDuration("older-than", flags.olderThan);
  const { FolderStore } = await import("../src/store/folder.js");
  const { localStoreRoot } = await import("../src/compute/open.js");
  const { applyGc, planGc } = await import("../src/store/gc.js");
  const store = new FolderStore(localStoreRoot(process.cwd(), flags.store));
  const plan = planGc(store, olderThanMs);
  const out = [`fanout gc (${store.location}, runs untouched for ${flags.olderThan.trim()}): ${flags.dryRun ? "would remove" : "removing"}`];
  out.push(`  ${plan.runs.length} runs${plan.runs.length ? ":" : ""}`);
  for (const r of plan.runs) out.push(`    ${r.runId}  last written ${new Date(r.lastActivityMs).toISOString()}  (${r.objects} objects)`);
  out.push(`  ${plan.unreferenced.length} bundles and inputs no kept run uses${plan.unreferenced.length ? ":" : ""}`);
  for (const k of plan.unreferenced) out.push(`    ${k}`);
  out.push(`  ${plan.temps.length} temporary files left by killed writers`);
  out.push(`kept ${plan.keptRuns} runs`);
  await writeStdout(out.join("\n") + "\n");
  if (!flags.dryRun) await applyGc(store, plan);
}

async function runAction(job: string, flags: RunFlags): Promise<void> {
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
  try {
    const opts = runOptionsFrom(flags);
    await view.start(`fanout: bundling ${job}`);
    const { run } = await import("../src/run/run.js");
    const res = await run(job, {
      ...opts,
      signal: ac.signal,
      onProgress: view.update,
      onNotice: (line) => view.notice(line),
    });
    view.stop(true);
    if (flags.report) await writeReportOf(flags.report, res);
    if (!flags.quiet) for (const l of summaryLines(res.summary)) say(l);
    const out = flags.json ? { result: res.result, summary: res.summary } : res.result;
    await writeStdout(JSON.stringify(out === undefined ? null : out, null, flags.json ? 0 : 2) + "\n");
  } catch (err) {
    view.stop(false);
    const ran = err instanceof FanoutError && err.summary ? { summary: err.summary, attempts: err.attemptLog ?? [] } : undefined;
    if (err instanceof ChunkFailedError && ran && !flags.quiet) {
      for (const l of summaryLines(ran.summary)) say(l);
    }
    // A failed or cancelled run is when its report and its JSON are wanted most.
    if (flags.report && ran) await writeReportOf(flags.report, ran);
    if (flags.json) await writeStdout(JSON.stringify({ error: errorJson(err), summary: ran?.summary ?? null }) + "\n");
    throw err;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

async function writeReportOf(file: string, ran: { summary: RunSummary; attempts: AttemptRecord[] }): Promise<void> {
  const { writeReport } = await import("./report-hook.js");
  await writeReport(file, ran);
}

/** The `error` of `--json` output: the same facts as the one-line message, as fields. */
function errorJson(err: unknown): Record<string, unknown> {
  if (!(err instanceof FanoutError)) return { code: "E_UNEXPECTED", message: (err as Error)?.message ?? String(err), exitCode: exitCodeOf(err) };
  return {
    code: err.code,
    message: err.message,
    ...(err.hint ? { hint: err.hint } : {}),
    exitCode: err.exitCode,
    ...(err instanceof ChunkFailedError ? { runId: err.runId, index: err.index, kind: err.remote.kind, failedChunks: err.failedChunks } : {}),
    ...(err instanceof RunAbortedError ? { runId: err.runId } : {}),
  };
}

/** One line per error: what went wrong, then what to do about it. Stacks only with --verbose. */
export function formatError(err: unknown, verbose: boolean): string {
  if (err instanceof ChunkFailedError) {
    // Only the chunk's own errors point into the user's code; others are about the platform.
    const where = err.remote.kind === "user" ? userFrame(err.remote) : undefined;
    const more = err.failedChunks > 1 ? ` (${err.failedChunks} chunks failed; this is the first)` : "";
    let line = `fanout: ${err.message}${where ? ` at ${where}` : ""}${more}${err.hint ? ` — ${err.hint}` : ""}`;
    if (verbose && err.remote.stack) line += `\nremote stack of chunk ${err.index}:\n${err.remote.stack}`;
    return line;
  }
  if (err instanceof FanoutError) {
    let line = `fanout: ${err.message}${err.hint ? ` — ${err.hint}` : ""}`;
    if (verbose) line += `\n${err.stack ?? ""}${err.cause instanceof Error ? `\ncaused by: ${err.cause.stack}` : ""}`;
    return line;
  }
  const e = err as Error;
  return verbose ? `fanout: ${e?.stack ?? String(err)}` : `fanout: unexpected error: ${e?.message ?? String(err)} — rerun with --verbose for the stack, and report it`;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof FanoutError) return err.exitCode;
  if (err instanceof RunAbortedError) return 130;
  return 1;
}

const VERSION = "0.1.0";

/** The CLI entry: returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes("--verbose");
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      const msg = err.message.replace(/^error:\s*/, "");
      process.stderr.write(`fanout: ${msg} — see \`fanout ${argv[2] && !argv[2].startsWith("-") ? argv[2] + " " : ""}--help\`\n`);
      return 2;
    }
    process.stderr.write(formatError(err, verbose) + "\n");
    return exitCodeOf(err);
  }
}
