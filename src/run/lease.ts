/**
 * Exactly one driver per run: the driver (a `run`, a resume, a detached run's background
 * process) holds `runs/<id>/lease`, an object with a generation number and a heartbeat. A
 * driver that finds a live lease held by another is refused; a stale one (its holder's
 * process dead on this host, or its heartbeat stopped elsewhere) is taken over with the next
 * generation; a driver whose heartbeat finds a newer generation has been taken over and stops.
 * A remote driver (a Lambda invocation, worker/driver.ts) claims the generation its event
 * names, and near its deadline hands the lease to the next generation, which it invokes.
 *
 * The stores have no conditional write, so two drivers starting in the same instant could
 * both write; the read-back and every heartbeat catch the loser within one beat.
 */
import { randomUUID } from "node:crypto";
import { FanoutError } from "../errors.js";
import { keys } from "../store/keys.js";
import type { ObjectStore } from "../store/types.js";
import type { RunClient } from "../types.js";
import { attachCmd, type RunRef } from "../util/follow-up.js";
import { clientGone, thisClient } from "./liveness.js";

/** The lease object. */
export interface LeaseRecord {
  generation: number;
  holder: RunClient;
  /** The holder's last heartbeat (ISO time). */
  beatAt: string;
  /** Tells holders in one process apart: an emulated function runs many invocations in one. */
  token?: string;
  /** The holder stopped near its deadline and invited this generation to go on (it invoked it). */
  handedTo?: number;
  /** A remote driver's chunks in flight, noted before each is invoked: a successor waits for them. */
  inFlight?: InFlightChunk[];
}

/** A chunk attempt a driver invoked, and when it is surely over (its timeout passed). */
export interface InFlightChunk {
  index: number;
  attempt: number;
  until: number;
}

/** How often the holder renews its lease: a stale lease on another host is taken over after four missed beats. */
export const LEASE_BEAT_MS = 5000;

/** A held lease: `lost` turns true (and onLost is called once) when a newer driver took the run over. */
export interface Lease {
  readonly generation: number;
  /** How often the holder beats; the lease is stale after four missed beats. */
  readonly beatMs: number;
  readonly lost: boolean;
  /** Stop the heartbeat and remove the lease if it is still ours. */
  release(): Promise<void>;
  /** Stop the heartbeat and leave the lease to generation `next` (which the caller invokes). */
  handOver(next: number): Promise<void>;
  /** Chunks the previous holder had in flight when it stopped (a remote driver's claim only). */
  readonly orphans: InFlightChunk[];
  /** Record the chunks in flight in the lease; resolves once a write holding them is done. */
  note(inFlight: InFlightChunk[]): Promise<void>;
  /** Test setting: stop as a dead process would, writing nothing more (the lease goes stale). */
  die(): void;
}

/** Where a driver runs, as a refusal names it. */
function holderName(h: RunClient): string {
  return h.lambda ? `on Lambda, log stream ${h.lambda}` : `pid ${h.pid} on ${h.host}`;
}

/** The run already has a live driver. */
function driverRefused(ref: RunRef, held: LeaseRecord): FanoutError {
  return new FanoutError(
    "E_DRIVER_LIVE",
    `run ${ref.runId} already has a driver (${holderName(held.holder)}, lease generation ${held.generation})`,
    { hint: `follow it with \`${attachCmd(ref)}\`, or wait until it stops`, exitCode: 2 },
  );
}

/** A remote driver's event names a generation the lease has moved past (a duplicate or late delivery). */
function staleGeneration(ref: RunRef, generation: number, held: LeaseRecord): FanoutError {
  return new FanoutError("E_DRIVER_STALE", `driver generation ${generation} of run ${ref.runId} is stale: the lease is at generation ${held.generation}`, {
    hint: `nothing to do: the run has a newer driver; follow it with \`${attachCmd(ref)}\``,
    exitCode: 2,
  });
}

async function readLease(store: ObjectStore, runId: string): Promise<LeaseRecord | undefined> {
  const buf = await store.getIfExists(keys.lease(runId));
  return buf ? (JSON.parse(buf.toString("utf8")) as LeaseRecord) : undefined;
}

/** The live lease of the run, if another driver holds one (or one handed over, until its successor is overdue). */
export async function liveLease(store: ObjectStore, runId: string): Promise<LeaseRecord | undefined> {
  const held = await readLease(store, runId);
  return held && !clientGone(held.holder, held.beatAt) ? held : undefined;
}

/** Whether generation `generation` (or a later one) has claimed the run, or the lease is gone (the run ended). */
export async function claimedBy(store: ObjectStore, runId: string, generation: number): Promise<boolean> {
  const held = await readLease(store, runId);
  return held === undefined || held.generation >= generation;
}

/** The generation a new remote driver of the run should claim: past every one the lease has seen or invited. */
export async function nextGeneration(store: ObjectStore, runId: string): Promise<number> {
  const held = await readLease(store, runId);
  return held ? Math.max(held.generation, held.handedTo ?? 0) + 1 : 1;
}

/**
 * Take the run's lease for this process, or throw driverRefused. `fresh`: the run was just
 * made here, so nobody else can hold it (one write, no reads).
 */
export async function takeLease(store: ObjectStore, ref: RunRef, onLost: () => void, fresh = false): Promise<Lease> {
  let generation = 1;
  if (!fresh) {
    const held = await readLease(store, ref.runId);
    if (held && !clientGone(held.holder, held.beatAt)) throw driverRefused(ref, held);
    generation = (held?.generation ?? 0) + 1;
  }
  return hold(store, ref, generation, { onLost, beatMs: LEASE_BEAT_MS, check: !fresh, orphans: [] });
}

/**
 * A remote driver's claim of generation `generation` (from its event): granted when the lease
 * is free and this is the first generation, when the holder handed the run to exactly this
 * generation, or when the holder is gone and this generation is past all it knew. Else a live
 * holder refuses it (driverRefused) and a newer lease makes it stale (staleGeneration).
 */
export async function claimLease(store: ObjectStore, ref: RunRef, generation: number, onLost: () => void, beatMs = LEASE_BEAT_MS): Promise<Lease> {
  const held = await readLease(store, ref.runId);
  if (held) {
    const invited = held.handedTo === generation && held.generation === generation - 1;
    const past = generation > Math.max(held.generation, held.handedTo ?? 0);
    if (!invited && !past) throw staleGeneration(ref, generation, held);
    if (!invited && !clientGone(held.holder, held.beatAt)) throw driverRefused(ref, held);
  } else if (generation !== 1) {
    // Released: the run ended (or a stale event outlived it); nothing to drive.
    throw staleGeneration(ref, generation, { generation: 0, holder: thisClient(), beatAt: new Date(0).toISOString() });
  }
  const orphans = (held?.inFlight ?? []).filter((c) => c.until > Date.now());
  return hold(store, ref, generation, { onLost, beatMs, check: true, orphans });
}

/** Write this process's lease at `generation`, check it stuck (when others may race), and keep it beating. */
async function hold(store: ObjectStore, ref: RunRef, generation: number, o: { onLost: () => void; beatMs: number; check: boolean; orphans: InFlightChunk[] }): Promise<Lease> {
  const mine: LeaseRecord = { generation, holder: thisClient(o.beatMs), beatAt: new Date().toISOString(), token: randomUUID() };
  const lease = new HeldLease(store, ref.runId, mine, o.orphans, o.onLost);
  await lease.write();
  if (o.check) {
    const back = await readLease(store, ref.runId);
    if (!isMine(back, mine)) throw driverRefused(ref, back!);
  }
  lease.beatEvery(o.beatMs);
  return lease;
}

/** A lease this process holds: its record, its heartbeat, and its writes, one at a time. */
class HeldLease implements Lease {
  lost = false;
  private stopped = false;
  /** The latest write or beat: the next one waits for it. */
  private inFlight: Promise<void> = Promise.resolve();
  /** A note's write not yet started: later notes ride on it. */
  private noted: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
    private readonly mine: LeaseRecord,
    readonly orphans: InFlightChunk[],
    private readonly onLost: () => void,
  ) {}

  get beatMs(): number {
    return this.mine.holder.heartbeatMs;
  }

  get generation(): number {
    return this.mine.generation;
  }

  write(): Promise<void> {
    return this.store.put(keys.lease(this.runId), JSON.stringify(this.mine));
  }

  beatEvery(ms: number): void {
    this.timer = setInterval(() => {
      // A missed beat is not worth stopping a run for: the next one will do.
      this.inFlight = this.inFlight.then(() => this.beat()).catch(() => {});
    }, ms);
    this.timer.unref();
  }

  /** Renew the lease, unless a newer generation took it: then the run is lost to this driver. */
  private async beat(): Promise<void> {
    if (this.stopped) return;
    const now = await readLease(this.store, this.runId);
    if (now && !isMine(now, this.mine) && now.generation >= this.mine.generation) {
      this.lost = true;
      clearInterval(this.timer);
      this.onLost();
      return;
    }
    this.mine.beatAt = new Date().toISOString();
    await this.write();
  }

  note(chunks: InFlightChunk[]): Promise<void> {
    this.mine.inFlight = chunks;
    this.noted ??= this.inFlight = this.inFlight
      .then(async () => {
        this.noted = undefined;
        if (!this.stopped) await this.write();
      })
      .catch(() => {});
    return this.noted;
  }

  die(): void {
    this.stopped = this.lost = true;
    clearInterval(this.timer);
  }

  /** Stop beating; whether the lease is still ours. */
  private async stop(): Promise<boolean> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.inFlight;
    return !this.lost && isMine(await readLease(this.store, this.runId), this.mine);
  }

  async release(): Promise<void> {
    try {
      if (await this.stop()) await this.store.delete([keys.lease(this.runId)]);
    } catch {
      // A lease left behind is stale as soon as this process is gone.
    }
  }

  async handOver(next: number): Promise<void> {
    if (!(await this.stop())) return;
    // Its beat now dates the handover: the successor has four beats to claim it.
    await this.store.put(keys.lease(this.runId), JSON.stringify({ ...this.mine, beatAt: new Date().toISOString(), handedTo: next }));
  }
}

function isMine(l: LeaseRecord | undefined, mine: LeaseRecord): boolean {
  if (l === undefined || l.generation !== mine.generation) return false;
  if (l.token !== undefined || mine.token !== undefined) return l.token === mine.token;
  return l.holder.pid === mine.holder.pid && l.holder.host === mine.holder.host;
}
