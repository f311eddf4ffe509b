// bench/RESULTS.md: the table of one full run, with the commit, command and machine it ran on.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

/** `abc1234`, plus " with uncommitted changes" when the work tree differs from that commit. */
export function commitLabel(root) {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();
    const sha = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain") ? `${sha} with uncommitted changes` : sha;
  } catch (err) {
    return `unknown (git: ${String(err?.message ?? err).split("\n")[0]})`;
  }
}

/** The command as the user typed it: `npm run bench ...` or `node bench/run.js ...`. */
export function commandLine(args) {
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`;
  return ["node bench/run.js", ...args].join(" ");
}

const load = (l) => l.map((v) => v.toFixed(1)).join(" / ");

export function writeResults(file, { started, commit, command, repeat, totalS, load0, load1, header, rows, caseNotes }) {
  const md = [
    "# fanout benchmark results",
    "",
    `- commit: ${commit}`,
    `- command: \`${command}\``,
    `- date: ${started.toISOString()}`,
    `- machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores (availableParallelism ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`,
    `- node: ${process.version}`,
    `- load average (1/5/15 min): ${load(load0)} at the start, ${load(load1)} at the end; other work on the machine skews the figures`,
    `- total time: ${totalS.toFixed(0)} s`,
    "",
    `Every measurement was repeated ${repeat} times (case g at least 7, see its note); each cell is the median with the spread (min–max) in brackets, and the ratio is`,
    "the ratio of the two medians. Both sides of a comparison got the same warm-up and the same work, were measured in this same",
    "run, and ran in alternating order (the first side on even repetitions ran second on odd ones). Every result was checked.",
    "",
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    "## What each case does",
    "",
    ...caseNotes.map((n) => `- ${n}`),
    "",
  ].join("\n");
  fs.writeFileSync(file, md);
}
