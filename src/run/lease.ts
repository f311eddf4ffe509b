/**
 * Exactly one driver per run: the driver (a `run`, a resume, a detached run's background
 * process) holds `runs/<id>/lease`, an object with a generation number and a heartbeat. A
 * driver that finds a live lease held by another is refused; a stale one (its holder's
 * process dead on this host, or its heartbeat stopped elsewhere) is taken over with the next
 * generation; a driver whose heartbeat finds a newer generation has been taken over and stops.
 *
 * The stores have no conditional write, so two drivers starting in the same instant could
 * both write; the read-back and every heartbeat catch the loser within one beat.
 */
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
}

/** How often the holder renews its lease: a stale lease on another host is taken over after four missed beats. */
const LEASE_BEAT_MS = 5000;

/** A held lease: `lost` turns true (and onLost is called once) when a newer driver took the run over. */
export interface Lease {
  readonly generation: number;
  readonly lost: boolean;
  /** Stop the heartbeat and remove the lease if it is still ours. */
  release(): Promise<void>;
}

/** The run already has a live driver. */
function driverRefused(ref: RunRef, held: LeaseRecord): FanoutError {
  return new FanoutError(
    "E_DRIVER_LIVE",
    `run ${ref.runId} already has a driver (pid ${held.holder.pid} on ${held.holder.host}, lease generation ${held.generation})`,
    { hint: `follow it with \`${attachCmd(ref)}\`, or wait until it stops`, exitCode: 2 },
  );
}

async function readLease(store: ObjectStore, runId: string): Promise<LeaseRecord | undefined> {
  const buf = await store.getIfExists(keys.lease(runId));
  return buf ? (JSON.parse(buf.toString("utf8")) as LeaseRecord) : undefined;
}

/** The live lease of the run, if another driver holds one. */
export async function liveLease(store: ObjectStore, runId: string): Promise<LeaseRecord | undefined> {
  const held = await readLease(store, runId);
  return held && !clientGone(held.holder, held.beatAt) ? held : undefined;
}

/**
 * Take the run's lease for this process, or throw driverRefused. `fresh`: the run was just
 * made here, so nobody else can hold it (one write, no reads).
 */
export async function takeLease(store: ObjectStore, ref: RunRef, onLost: () => void, fresh = false): Promise<Lease> {
  const { runId } = ref;
  let generation = 1;
  if (!fresh) {
    const held = await readLease(store, runId);
    if (held && !clientGone(held.holder, held.beatAt)) throw driverRefused(ref, held);
    generation = (held?.generation ?? 0) + 1;
  }
  const mine: LeaseRecord = { generation, holder: thisClient(LEASE_BEAT_MS), beatAt: new Date().toISOString() };
  const write = () => store.put(keys.lease(runId), JSON.stringify(mine));
  await write();
  if (!fresh) {
    const back = await readLease(store, runId);
    if (!isMine(back, mine)) throw driverRefused(ref, back!);
  }
  let lost = false;
  let inFlight: Promise<void> = Promise.resolve();
  const beat = async () => {
    const now = await readLease(store, runId);
    if (now && !isMine(now, mine) && now.generation >= mine.generation) {
      lost = true;
      clearInterval(timer);
      onLost();
      return;
    }
    mine.beatAt = new Date().toISOString();
    await write();
  };
  const timer = setInterval(() => {
    // A missed beat is not worth stopping a run for: the next one will do.
    inFlight = inFlight.then(beat).catch(() => {});
  }, LEASE_BEAT_MS);
  timer.unref();
  return {
    generation,
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(timer);
      await inFlight;
      if (lost) return;
      try {
        if (isMine(await readLease(store, runId), mine)) await store.delete([keys.lease(runId)]);
      } catch {
        // A lease left behind is stale as soon as this process is gone.
      }
    },
  };
}

function isMine(l: LeaseRecord | undefined, mine: LeaseRecord): boolean {
  return l !== undefined && l.generation === mine.generation && l.holder.pid === mine.holder.pid && l.holder.host === mine.holder.host;
}
