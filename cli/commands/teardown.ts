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

/** How long to wait before each re-list: a late write from an abandoned invocation lands meanwhile. */
const SETTLE_MS = [0, 1000, 2000, 4000];

/**
 * Delete everything under fanout's prefixes, then list again: invocations a run abandoned
 * (Lambda runs them on after the client gives up) may still write results while teardown
 * empties the bucket, and CloudFormation cannot delete a bucket that is not empty. Returns how
 * many objects went; throws when writes keep arriving after every round.
 * @public tests import it from dist/, which knip cannot follow.
 */
export async function emptyStore(store: ObjectStore, settleMs: readonly number[] = SETTLE_MS): Promise<number> {
  let removed = 0;
  for (const wait of settleMs) {
    if (wait) await new Promise((r) => setTimeout(r, wait));
    const { keys } = await inventory(store);
    if (keys.length === 0) return removed;
    await store.delete(keys);
    removed += keys.length;
  }
  const left = (await inventory(store)).keys.length;
  if (left) throw new ConfigError(`${left} objects are still in ${store.location} after deleting`, "run teardown again");
  return removed;
}

async function teardownAction(f: TeardownFlags): Promise<void> {
  const backend = checkBackend(f.backend ?? "aws");
  // One region for emptying the bucket and removing the stack: the SDK's chain, profile included.
  const at = backend === "aws" ? await (await import("../serverless.js")).stackPlace(f) : undefined;
  await withStore({ ...f, backend, ...(at ? { region: at.region } : {}) }, async (store) => {
    const inv = await inventory(store);
    const out = [`fanout teardown (${backend}${backend === "aws" ? `, stack fanout-${f.stage}` : ""}): ${f.dryRun ? "would remove" : "removing"}`];
    if (backend === "aws") {
      out.push(`  CloudFormation stack fanout-${f.stage}: the worker Lambda (fanout-${f.stage}-worker), its log group, the run bucket, the worker role, and the Serverless deployment bucket`);
    }
    out.push(`  ${inv.keys.length} objects fanout wrote:`, ...inv.lines);
    await writeStdout(out.join("\n") + "\n");
    if (f.dryRun) return;
    // The bucket must be empty before CloudFormation can delete it.
    const removed = await emptyStore(store);
    await writeStdout(`removed ${removed} objects from ${store.location}\n`);
  });
  if (at && !f.dryRun) {
    const { oslsArgs, serverless } = await import("../serverless.js");
    const code = await serverless(oslsArgs("remove", at));
    if (code !== 0) throw new ConfigError(`serverless remove failed (exit ${code})`, "see its output above, then run `fanout teardown` again");
    await writeStdout(`removed stack fanout-${f.stage} and everything in it\n`);
  }
  if (backend === "emulated") await writeStdout("the emulated stack itself stops with `fanout emulate` (Ctrl-C)\n");
}

