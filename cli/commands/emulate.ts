// `fanout emulate`: keep an emulated AWS stack (s3rver + serverless-offline) running on loopback.
import type { Command } from "commander";
import { lambdaMemoryTiers } from "../../src/options.js";
import { writeStdout } from "../common.js";

export function registerEmulate(program: Command): void {
  program
    .command("emulate")
    .description("keep an emulated AWS stack (s3rver + serverless-offline) running on loopback")
    .option("--stage <stage>", "stage of the emulated stack", "dev")
    .option("--memory <tiers>", "memory tiers in MB, as `fanout deploy --memory 256,1024` deploys them: one worker function each")
    .action(emulateAction);
}

async function emulateAction(f: { stage: string; memory?: string }): Promise<void> {
  const tiers = f.memory === undefined ? undefined : lambdaMemoryTiers(f.memory);
  const { startEmulator } = await import("../../src/compute/aws/emulator.js");
  const { emulatorEnvValue } = await import("../../src/compute/aws/env.js");
  // Objects stay in the project's store after Ctrl-C, for status, logs and --resume.
  const { emulatedStoreDir } = await import("../../src/store/open.js");
  const emu = await startEmulator({ stage: f.stage, dir: emulatedStoreDir(process.cwd()), ...(tiers && tiers.length > 1 ? { tiers } : {}) });
  await writeStdout(
    [
      "emulated AWS stack on loopback (Ctrl-C stops it):",
      `  S3      ${emu.s3Endpoint}   s3rver, bucket ${emu.bucket}, data in ${emu.dir}`,
      `  Lambda  ${emu.lambdaEndpoint}   serverless-offline, function ${emu.functionName}${emu.tiers ? ` (memory tiers ${emu.tiers})` : ""}`,
      "point runs (and status, logs, teardown) at it from another shell:",
      `  export FANOUT_EMULATOR='${emulatorEnvValue(emu)}'`,
      "  npx fanout run examples/pi.ts --chunks 360 --backend emulated",
      "",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await emu.stop();
  process.stderr.write("emulated stack stopped\n");
}
