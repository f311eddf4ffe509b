import { setTimeout as sleep } from "node:timers/promises";
import { backoffMs } from "../util/backoff.js";
import { NoSuchKeyError } from "./types.js";

/**
 * Retry a store call through a short outage (the bucket or folder unreachable for a few
 * seconds). A missing object is an answer, not an outage, and is not retried.
 */
export async function retrying<T>(fn: () => Promise<T>, attempts = 8, baseMs = 250): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof NoSuchKeyError || i >= attempts) throw err;
      await sleep(backoffMs(i, baseMs, 8000));
    }
  }
}
