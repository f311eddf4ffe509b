// `fanout teardown`: remove every object fanout wrote and, on AWS, the whole stack.
import type { Command } from "commander";
import { ConfigError } from "../../src/errors.js";
import { checkBackend } from "../../src/options.js";
import type { ObjectStore } from "../../src/store/types.js";
import { addBackendOptions, withStore, writeStdout, type BackendFlags } from "../common.js";

interface TeardownFlags extends BackendFlags {
  stage: string;
  dryRun?: boolean;
}

export function registerTeardown(program: Command): void {
  const teardown = program
    .command("teardown")
    .description("remove every object fanout wrote and the whole stack; says what it removes")
    .option("--dry-run", "list what would be removed, remove nothing");
  // Teardown is about AWS unless told otherwise.
  addBackendOptions(teardown, "aws");
  teardown.addHelpText("after", "\nExamples:\n  $ npx fanout teardown --dry-run\n  $ npx fanout teardown --stage dev --region eu-west-1\n  $ npx fanout teardown --backend emulated   # empties the emulated bucket\n");
  teardown.action(teardownAction);
}

/** Every object fanout writes lives under these prefixes of the bucket (see src/store/keys.ts). */
const PREFIXES = ["bundles/", "inputs/", "runs/"];

async function inventory(store: ObjectStore): Promise<{ keys: string[]; lines: string[] }> {
  const keys: string[] = [];
  const lines: string[] = [];
  for (const prefix of PREFIXES) {
    const ks = await store.list(prefix);
    for (const k of ks) keys.push(k);
    if (prefix === "runs/") {
      const runs = new Map<string, number>();
      for (const k of ks) {
        const id = k.split("/")[1]!;
        runs.set(id, (runs.get(id) ?? 0) + 1);
      }
      for (const [id, n] of runs) lines.push(`  ${store.location}runs/${id}/  (${n} objects)`);
      if (runs.size === 0) lines.push(`  ${store.location}runs/  (no runs)`);
    } else lines.push(`  ${store.location}${prefix}  (${ks.length} objects)`);
  }
  return { keys, lines };
}

async function teardownAction(f: TeardownFlags): Promise<void> {
  const backend = checkBackend(f.backend ?? "aws");
  await withStore({ ...f, backend }, async (store) => {
    const inv = await inventory(store);
    const out = [`fanout teardown (${backend}${backend === "aws" ? `, stack fanout-${f.stage}` : ""}): ${f.dryRun ? "would remove" : "removing"}`];
    if (backend === "aws") {
      out.push(`  CloudFormation stack fanout-${f.stage}: the worker Lambda (fanout-${f.stage}-worker), its log group, the run bucket, the worker role, and the Serverless deployment bucket`);
    }
    out.push(`  ${inv.keys.length} objects fanout wrote:`, ...inv.lines);
    await writeStdout(out.join("\n") + "\n");
    if (f.dryRun) return;
    // The bucket must be empty before CloudFormation can delete it.
    await store.delete(inv.keys);
    const left = (await inventory(store)).keys.length;
    if (left) throw new ConfigError(`${left} objects are still in ${store.location} after deleting`, "run teardown again");
    await writeStdout(`removed ${inv.keys.length} objects from ${store.location}\n`);
  });
  if (backend === "aws" && !f.dryRun) {
    const { awsArgs, serverless } = await import("../serverless.js");
    const code = await serverless(["remove", ...awsArgs(f)]);
    if (code !== 0) throw new ConfigError(`serverless remove failed (exit ${code})`, "see its output above, then run `fanout teardown` again");
    await writeStdout(`removed stack fanout-${f.stage} and everything in it\n`);
  }
  if (backend === "emulated") await writeStdout("the emulated stack itself stops with `fanout emulate` (Ctrl-C)\n");
}
