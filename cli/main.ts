// The `fanout` program: the commands (each in commands/<verb>.ts), one-line errors, exit codes.
// Each command loads its heavy modules (esbuild, the AWS SDK, ora, the run machinery) when it
// runs, so start-up and --help stay fast (test/cli-io.test.ts checks).
import * as fs from "node:fs";
import { Command, CommanderError } from "commander";
import { registerAttach } from "./commands/attach.js";
import { registerBench } from "./commands/bench.js";
import { registerCancel } from "./commands/cancel.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerDrive } from "./commands/drive.js";
import { registerEmulate } from "./commands/emulate.js";
import { registerGc } from "./commands/gc.js";
import { registerLogs } from "./commands/logs.js";
import { registerRun } from "./commands/run.js";
import { registerStatus } from "./commands/status.js";
import { registerTeardown } from "./commands/teardown.js";
import { exitCodeOf, formatError } from "./errors.js";

const DESCRIPTION = [
  "Run one TypeScript module over many chunks at once.",
  "",
  'A job module\'s default export is made with defineJob from "fanout": an input (range, lines, or an array), a map(chunk, ctx) that runs in a worker once per chunk, and an optional reduce(results) that runs here over all results in chunk order. fanout bundles the module with esbuild, stores the bundle, payloads and results in object storage (a local folder, or S3), and runs one worker invocation per chunk: on a pool of local worker processes by default, or on AWS Lambda.',
].join("\n");

const EXAMPLES = `
Examples:
  $ npx fanout run examples/pi.ts --chunks 360       run locally, print the answer
  $ npx fanout run job.ts --chunks 360 --backend aws run on Lambda (after fanout deploy)
  $ npx fanout status                                list runs in the store
  $ npx fanout logs <runId> 7                        log lines and error of chunk 7

Library: import { run, map, defineJob, range, lines } from "fanout"`;

/** fanout's version, from its package.json (this file is dist/cli/main.js in the package). */
function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
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
    .version(version(), "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureHelp({ sortSubcommands: false })
    .addHelpText("after", EXAMPLES);
  for (const register of [registerRun, registerAttach, registerStatus, registerCancel, registerLogs, registerGc, registerBench, registerDeploy, registerTeardown, registerEmulate, registerDrive]) register(program);
  return program;
}

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
