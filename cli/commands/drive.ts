// `fanout drive <runId>` (hidden): the background driver of a detached run, spawned by
// `fanout run --detach` and `fanout attach`. Its output goes to the run's driver.log.
import type { Command } from "commander";
import { checkBackend } from "../../src/options.js";
import { addBackendOptions, awsOptionsFrom, checkRunId, type BackendFlags } from "../common.js";

export function registerDrive(program: Command): void {
  const cmd = program.command("drive", { hidden: true }).description("run a detached run's chunks (started by --detach)").argument("<runId>", "the run id");
  addBackendOptions(cmd).action(async (runId: string, flags: BackendFlags) => {
    checkRunId(runId);
    const { driveRun } = await import("../../src/run/detach.js");
    await driveRun(runId, { backend: checkBackend(flags.backend), ...(flags.store ? { store: flags.store } : {}), aws: awsOptionsFrom(flags) });
  });
}
