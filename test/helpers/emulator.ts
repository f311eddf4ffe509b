import { afterAll, beforeAll } from "vitest";
import type { Emulator } from "../../dist/src/compute/aws/emulator.js";

/**
 * One emulated AWS stack per test file: started in beforeAll, stopped (by PID, inside
 * stop()) in afterAll. FANOUT_EMULATOR points library calls and CLI children at it.
 */
export async function useEmulator(opts: { tiers?: number[]; s3Port?: number; workerS3Endpoint?: string } = {}): Promise<{ emu: Emulator; env: Record<string, string>; stop(): Promise<void> }> {
  const { startEmulator } = await import("../../dist/src/compute/aws/emulator.js");
  const { emulatorEnvValue } = await import("../../dist/src/compute/aws/env.js");
  const emu = await startEmulator({ stage: `t${process.pid}`, ...opts });
  const value = emulatorEnvValue(emu);
  const previous = process.env.FANOUT_EMULATOR;
  process.env.FANOUT_EMULATOR = value;
  return {
    emu,
    env: { FANOUT_EMULATOR: value },
    async stop() {
      if (previous === undefined) delete process.env.FANOUT_EMULATOR;
      else process.env.FANOUT_EMULATOR = previous;
      await emu.stop();
      for (const pid of emu.pids) {
        try {
          process.kill(pid, 0);
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone, as it should be */
        }
      }
    },
  };
}

/** One emulated stack for the calling test file: started before its tests, stopped after them. */
export function emulatorForFile(opts: { tiers?: number[] } = {}): { current: Awaited<ReturnType<typeof useEmulator>> } {
  const holder = {} as { current: Awaited<ReturnType<typeof useEmulator>> };
  beforeAll(async () => {
    holder.current = await useEmulator(opts);
  }, 120_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return holder;
}
