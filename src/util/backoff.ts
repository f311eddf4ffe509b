const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 30_000;

/**
 * Exponential backoff with full jitter in [d/2, d): spread retries so they do not stampede.
 * `random` is Math.random unless a test needs the delay exactly.
 */
export function backoffMs(attempt: number, base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS, random: () => number = Math.random): number {
  const d = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return d / 2 + random() * (d / 2);
}
