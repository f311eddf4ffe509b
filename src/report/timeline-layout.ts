/**
 * Where each attempt sits on the timeline, before any drawing: the time range covered, one
 * row per chunk, and lanes within a row for attempts of a chunk that overlap in time.
 */
import type { AttemptRecord } from "../types.js";

export interface TimelineLayout {
  /** Earliest invoke (epoch ms). */
  t0: number;
  /** Milliseconds from t0 to the last reply or worker end; at least 1. */
  span: number;
  /** Chunk rows: the highest chunk index plus one. */
  rows: number;
  /** Per attempt (same order as the input): its lane within its chunk's row, from 0. */
  lane: number[];
  /** Per chunk index: how many lanes its row is divided into. */
  lanes: Map<number, number>;
}

/** When an attempt's bar ends: the reply, or the worker's end if that came later (clock skew). */
export function attemptEnd(a: AttemptRecord): number {
  return Math.max(a.returnedAt, a.endedAt ?? 0);
}

/** Lays out a non-empty list of attempts. */
export function layoutTimeline(attempts: readonly AttemptRecord[]): TimelineLayout {
  let t0 = Infinity;
  let t1 = -Infinity;
  let rows = 0;
  for (const a of attempts) {
    t0 = Math.min(t0, a.invokedAt);
    t1 = Math.max(t1, attemptEnd(a));
    rows = Math.max(rows, a.index + 1);
  }
  return { t0, span: Math.max(1, t1 - t0), rows, ...assignLanes(attempts) };
}

/** Lanes: attempts of a chunk that overlap in time (speculative copies) share its row. */
function assignLanes(attempts: readonly AttemptRecord[]): Pick<TimelineLayout, "lane" | "lanes"> {
  const order = attempts.map((_, i) => i).sort((a, b) => attempts[a]!.index - attempts[b]!.index || attempts[a]!.invokedAt - attempts[b]!.invokedAt);
  const lane = new Array<number>(attempts.length).fill(0);
  const lanes = new Map<number, number>();
  let laneEnds: number[] = [];
  let cur = -1;
  for (const i of order) {
    const a = attempts[i]!;
    if (a.index !== cur) {
      if (cur >= 0) lanes.set(cur, laneEnds.length);
      cur = a.index;
      laneEnds = [];
    }
    let l = laneEnds.findIndex((end) => end <= a.invokedAt);
    if (l === -1) {
      l = laneEnds.length;
      laneEnds.push(0);
    }
    laneEnds[l] = attemptEnd(a);
    lane[i] = l;
  }
  if (cur >= 0) lanes.set(cur, laneEnds.length);
  return { lane, lanes };
}
