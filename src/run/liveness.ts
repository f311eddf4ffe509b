import * as os from "node:os";
import type { RunClient, RunManifest } from "../types.js";
import { processAlive } from "../util/process.js";

/** How often a running client rewrites its manifest: one small PUT, cheap even on S3. */
const HEARTBEAT_MS = 15_000;
/** A run on another host is taken for dead after this many missed heartbeats. */
const MISSED_BEATS = 4;

/** This process as a run's client; inside a Lambda invocation, marked as one (AWS_LAMBDA_FUNCTION_NAME is Lambda's own variable). */
export function thisClient(heartbeatMs = HEARTBEAT_MS): RunClient {
  const client: RunClient = { host: os.hostname(), pid: process.pid, heartbeatMs };
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) client.lambda = process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? process.env.AWS_LAMBDA_FUNCTION_NAME;
  return client;
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

/**
 * A client is gone when its process is dead on this host, or its heartbeat (last at `beatAt`)
 * stopped on another. A Lambda client is judged by its heartbeat only: an emulated function
 * shares this host and a process with others, and a real one's pid means nothing here.
 */
export function clientGone(client: RunClient, beatAt: string, now = Date.now()): boolean {
  const { host, pid, heartbeatMs } = client;
  if (host === os.hostname() && !client.lambda) return !processAlive(pid);
  return now - Date.parse(beatAt) > MISSED_BEATS * heartbeatMs;
}

