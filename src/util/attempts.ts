import type { AttemptRecord } from "../types.js";

/** How long an attempt ran: the worker's own start and end when it reported them, else the client's invoke and return. */
export function attemptRunMs(a: Pick<AttemptRecord, "startedAt" | "endedAt" | "invokedAt" | "returnedAt">): number {
  return (a.endedAt ?? a.returnedAt) - (a.startedAt ?? a.invokedAt);
}
