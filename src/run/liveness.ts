import * as os from "node:os";
import type { RunClient, RunManifest } from "../types.js";
import { processAlive } from "../util/process.js";

/** How often a running client rewrites its manifest: one small PUT, cheap even on S3. */
const HEARTBEAT_MS = 15_000;
/** A run on another host is taken for dead after this many missed heartbeats. */
const MISSED_BEATS = 4;

export function thisClient(heartbeatMs = HEARTBEAT_MS): RunClient {
  return { host: os.hostname(), pid: process.pid, heartbeatMs };
}

/**
 * Rewrite the manifest (fresh updatedAt) every interval while a run goes on. stop() waits for
 * a write in flight, so a late heartbeat can never overwrite the manifest that ends the run.
 */
export function startHeartbeat(manifest: RunManifest, write: () => Promise<void>, ms = manifest.client?.heartbeatMs ?? HEARTBEAT_MS): { stop(): Promise<void> } {
  let inFlight: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    manifest.updatedAt = new Date().toISOString();
    // A missed beat is not worth failing a run for: the next one will do.
    inFlight = inFlight.then(write).catch(() => {});
  }, ms);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}

export type ShownStatus = RunManifest["status"] | "interrupted";

/**
 * A `running` manifest whose client is gone (its process is dead on this host, or its
 * heartbeat stopped on another) is shown as interrupted: nothing will finish it but a resume.
 */
export function shownStatus(m: RunManifest, now = Date.now()): ShownStatus {
  if (m.status !== "running" || !m.client) return m.status;
  return clientGone(m.client, m.updatedAt, now) ? "interrupted" : "running";
}

/** A client is gone when its process is dead on this host, or its heartbeat (last at `beatAt`) stopped on another. */
export function clientGone(client: RunClient, beatAt: string, now = Date.now()): boolean {
  const { host, pid, heartbeatMs } = client;
  if (host === os.hostname()) return !processAlive(pid);
  return now - Date.parse(beatAt) > MISSED_BEATS * heartbeatMs;
}

