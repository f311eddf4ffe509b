// `fanout cancel <runId>`: stop a run from anywhere its store can be reached.
import type { Command } from "commander";
import { UsageError } from "../../src/errors.js";
import { readManifest } from "../../src/run/manifest.js";
import { followUpFlags, statusCmd } from "../../src/util/follow-up.js";
import { addBackendOptions, checkRunId, withStore, writeStdout, type BackendFlags } from "../common.js";

export function registerCancel(program: Command): void {
  const cancel = program
    .command("cancel")
    .description("stop a running run: its client stops dispatching, and its workers stop their chunks within a few seconds")
    .argument("<runId>", "the run to stop (`fanout status` lists runs)")
    .addHelpText("after", "\nExamples:\n  $ npx fanout cancel 20261127T044612Z-k3j9xq\n  $ npx fanout cancel 20261127T044612Z-k3j9xq --backend aws --region eu-west-1\nFinished chunks are kept: `fanout run <job> --resume <runId>` runs the rest later.\n");
  addBackendOptions(cancel).action(cancelAction);
}

async function cancelAction(runId: string, flags: BackendFlags): Promise<void> {
  checkRunId(runId);
  await withStore(flags, async (store) => {
    const manifest = await readManifest(store, runId);
    if (manifest.status !== "running") {
      const ref = { runId, flags: followUpFlags(manifest.backend, flags.store) };
      throw new UsageError(`run ${runId} already finished (${manifest.status}): there is nothing to cancel`, `\`${statusCmd(ref)}\` shows how it ended`);
    }
    const { requestCancel } = await import("../../src/run/cancel.js");
    await requestCancel(store, runId);
    await writeStdout(`cancelling run ${runId}: its client stops dispatching and its workers stop their chunks within a few seconds\n`);
  });
}
