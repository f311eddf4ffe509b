/**
 * How the report reads an attempt: the outcome it is drawn with, and its run time.
 */
import type { AttemptRecord } from "../types.js";

export type DisplayOutcome = "ok" | "retried" | "speculative" | "failed" | "cancelled";
export const DISPLAY_OUTCOMES: readonly DisplayOutcome[] = ["ok", "retried", "speculative", "failed", "cancelled"];

/**
 * How each attempt is drawn: ok; speculative (a speculative copy that won); cancelled (lost a
 * speculative race, or was cancelled); retried (failed, and its chunk was tried again
 * afterwards); failed (failed, and nothing came after it).
 */
export function classifyAttempts(attempts: readonly AttemptRecord[]): DisplayOutcome[] {
  const lastInvoke = new Map<number, number>();
  for (const a of attempts) lastInvoke.set(a.index, Math.max(lastInvoke.get(a.index) ?? -Infinity, a.invokedAt));
  const lastAttempt = new Map<number, number>();
  for (const a of attempts) lastAttempt.set(a.index, Math.max(lastAttempt.get(a.index) ?? 0, a.attempt));
  return attempts.map((a) => {
    if (a.outcome === "cancelled") return "cancelled";
    if (a.outcome === "ok") {
      if (!a.won) return "cancelled";
      return a.speculative ? "speculative" : "ok";
    }
    const later = a.attempt < lastAttempt.get(a.index)! || a.invokedAt < lastInvoke.get(a.index)!;
    return later ? "retried" : "failed";
  });
}

/** How many attempts each display outcome has (every outcome present, zeros included). */
export function countOutcomes(outcomes: readonly DisplayOutcome[]): Record<DisplayOutcome, number> {
  const counts = Object.fromEntries(DISPLAY_OUTCOMES.map((o) => [o, 0])) as Record<DisplayOutcome, number>;
  for (const o of outcomes) counts[o]++;
  return counts;
}

/** Run time of an attempt as the summary counts it: worker start..end, else invoke..return. */
export function runMs(a: AttemptRecord): number {
  return (a.endedAt ?? a.returnedAt) - (a.startedAt ?? a.invokedAt);
}
