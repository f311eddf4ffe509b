// `fanout attach <runId>`: follow a (detached) run from the store, then print its result as
// `fanout run` would. Ctrl-C stops following; the run goes on.
import type { Command } from "commander";
import { addBackendOptions, awsOptionsFrom, checkRunId, type BackendFlags } from "../common.js";
import { checkBackend } from "../../src/options.js";
import { ProgressView } from "../render.js";
import { showOutcome } from "./run.js";

interface AttachFlags extends BackendFlags {
  json?: boolean;
  quiet?: boolean;
  report?: string;
}

export function registerAttach(program: Command): void {
  const cmd = program
    .command("attach")
    .description("follow a run (e.g. one started with --detach) until it ends, then print its result")
    .argument("<runId>", "the run id")
    .option("--json", "print { result, summary } as one JSON object on stdout")
    .option("--report <file.html>", "write an HTML report of the run")
    .option("-q, --quiet", "no progress or summary on stderr");
  addBackendOptions(cmd).action(attachAction);
}

async function attachAction(runId: string, flags: AttachFlags): Promise<void> {
  checkRunId(runId);
  const view = new ProgressView(!flags.quiet);
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error("stopped following (SIGINT); the run goes on"));
  process.on("SIGINT", onSigint);
  try {
    await showOutcome(view, flags, async () => {
      await view.start(`fanout: attaching to run ${runId}`);
      const { attach } = await import("../../src/run/attach.js");
      return attach(runId, {
        backend: checkBackend(flags.backend),
        ...(flags.store ? { store: flags.store } : {}),
        aws: awsOptionsFrom(flags),
        signal: ac.signal,
        onProgress: view.update,
        onNotice: (line) => view.notice(line),
      });
    });
  } finally {
    process.off("SIGINT", onSigint);
  }
}
