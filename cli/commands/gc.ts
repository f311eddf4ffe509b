// `fanout gc --older-than <duration>`: remove old runs of the local store, and what only they used.
import type { Command } from "commander";
import { parseDuration } from "../../src/options.js";
import { writeStdout } from "../common.js";

interface GcFlags {
  olderThan: string;
  dryRun?: boolean;
  store?: string;
}

export function registerGc(program: Command): void {
  program
    .command("gc")
    .description("remove runs of the local store untouched for longer than --older-than, and what only they used")
    .requiredOption("--older-than <duration>", "age of the last write to a run: 30m, 12h, 7d, 2w")
    .option("--dry-run", "list what would be removed, remove nothing")
    .option("--store <dir>", "folder of the local object store (default: .fanout at the project root)")
    .addHelpText("after", "\nExamples:\n  $ npx fanout gc --older-than 7d --dry-run\n  $ npx fanout gc --older-than 12h\nS3 run data expires by itself (fanout deploy --expire-days); `fanout teardown --backend local` empties the local store.\n")
    .action(gcAction);
}

async function gcAction(flags: GcFlags): Promise<void> {
  const olderThanMs = parseDuration("older-than", flags.olderThan);
  const { FolderStore } = await import("../../src/store/folder.js");
  const { localStoreRoot } = await import("../../src/store/open.js");
  const { applyGc, planGc } = await import("../../src/store/gc.js");
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
