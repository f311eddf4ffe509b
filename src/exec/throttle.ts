import { backoffMs } from "../util/backoff.js";

/**
 * One in-flight limit for the whole run, found the way TCP finds its window (AIMD): the
 * platform's 429 halves it, successes raise it by one per round trip. Pure: every event
 * carries its time, so tests replay a sequence exactly.
 */
export interface ThrottleSettings {
  /** A throttled chunk waits backoff(events since the last success) from this base... */
  pauseBaseMs: number;
  /** ...to this cap, unless the platform names a longer Retry-After. */
  pauseCapMs: number;
  /** Throttled with the limit at 1 and no success for this long: the chunk fails. */
  stallMs: number;
  /** The jitter's source; tests pass a constant to get exact pauses. */
  random: () => number;
}

/**
 * 500 ms and 20 s are the AWS SDK's own throttling backoff base and cap; 5 minutes at one
 * invocation in flight without a success means the account cannot run the function at all
 * (a quota of 0, or a reserved concurrency of 0), not a burst that will pass.
 */
export const DEFAULT_THROTTLE_SETTINGS: ThrottleSettings = {
  pauseBaseMs: 500,
  pauseCapMs: 20_000,
  stallMs: 5 * 60_000,
  random: Math.random,
};

/** What to do with a chunk the platform just throttled. */
export interface ThrottleVerdict {
  /** Wait this long before sending the chunk again (Retry-After included). */
  pauseMs: number;
  /** The limit has sat at 1 with no success for stallMs: fail the chunk. */
  giveUp: boolean;
}

/** The throttle figures of a run, for its summary. */
export interface ThrottleFigures {
  /** 429s seen (each throttled attempt once). */
  throttled: number;
  /** The lowest the limit went. */
  lowest: number;
  /** The limit when the run ended: what the platform allowed, as found. */
  final: number;
  /** --concurrency: the limit never goes above it. */
  ceiling: number;
}

export class ThrottleController {
  /** In-flight invocations allowed now: 1 <= limit <= ceiling. */
  limit: number;
  lowest: number;
  throttled = 0;
  /**
   * Advances on each decrease. An attempt carries the window it was sent in; a 429 to an
   * attempt sent before the last decrease is part of the overshoot already answered, so a
   * burst of 429s from one overshoot halves the limit once (once per round trip, as in TCP).
   */
  window = 0;
  /** No invocation before this time (epoch ms): the platform's Retry-After. 0: none. */
  notBefore = 0;
  /** Successes since the limit last changed; +1 when they reach the limit (about one round trip). */
  private successes = 0;
  /** Decreases since the last success: the exponent of the pause. */
  private streak = 0;
  private lastSuccessAt: number;
  /** When the limit last reached 1. */
  private floorSince: number;
  readonly ceiling: number;

  constructor(
    ceiling: number,
    now: number,
    readonly settings: ThrottleSettings = DEFAULT_THROTTLE_SETTINGS,
  ) {
    this.ceiling = Math.max(1, ceiling);
    this.limit = this.lowest = this.ceiling;
    this.lastSuccessAt = this.floorSince = now;
  }

  /** An invocation the platform accepted. Returns true when the limit rose. */
  onSuccess(now: number): boolean {
    this.lastSuccessAt = now;
    this.streak = 0;
    if (this.limit >= this.ceiling || ++this.successes < this.limit) return false;
    this.successes = 0;
    this.limit++;
    return true;
  }

  /** A 429 to an attempt sent in `sentInWindow`, with the platform's Retry-After if it gave one. */
  on429(now: number, sentInWindow: number, retryAfterMs?: number): ThrottleVerdict {
    this.throttled++;
    if (sentInWindow === this.window) this.decrease(now);
    const s = this.settings;
    let pauseMs = backoffMs(Math.max(1, this.streak), s.pauseBaseMs, s.pauseCapMs, s.random);
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      this.notBefore = Math.max(this.notBefore, now + retryAfterMs);
      pauseMs = Math.max(pauseMs, retryAfterMs);
    }
    const giveUp = this.limit === 1 && now - Math.max(this.lastSuccessAt, this.floorSince) >= s.stallMs;
    return { pauseMs, giveUp };
  }

  /** How long to hold an invocation back for the platform's Retry-After; 0 to send now. */
  holdMs(now: number): number {
    return this.notBefore > now ? this.notBefore - now : 0;
  }

  figures(): ThrottleFigures {
    return { throttled: this.throttled, lowest: this.lowest, final: this.limit, ceiling: this.ceiling };
  }

  private decrease(now: number): void {
    this.window++;
    this.streak++;
    this.successes = 0;
    if (this.limit === 1) return;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.lowest = Math.min(this.lowest, this.limit);
    if (this.limit === 1) this.floorSince = now;
  }
}
