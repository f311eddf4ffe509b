/**
 * A run's secrets, read by the worker with its own credentials (the Lambda role; locally the
 * caller's chain) and cached for the life of the process, then set like env for each chunk.
 * The read itself is a function the host wires (worker/aws-ssm.ts), so this module and the
 * handler stay free of the SDK.
 */
import { parseSecretRef, type SecretRef } from "../src/secret-ref.js";
import type { Task } from "../src/types.js";
import type { Vars } from "./env-scope.js";

/** Reads one secret's value; throws SecretError when it is missing or not granted. */
export type SecretReader = (ref: SecretRef) => Promise<string>;

/** @public A secret the worker could not read: `code` says whether it is missing or not granted. */
export class SecretError extends Error {
  override name = "SecretError";
  constructor(
    message: string,
    readonly code: "E_SECRET_NOT_FOUND" | "E_SECRET_DENIED",
  ) {
    super(message);
  }
}

/** Values by reference, for the process's life; a failed read is dropped so the next chunk asks again. */
const values = new Map<string, Promise<string>>();
/** A run's env with its secrets, one object per run and process (env-scope compares by identity first). */
const merged = new WeakMap<Record<string, string>, Record<string, string>>();

function secretValue(ref: string, read: SecretReader): Promise<string> {
  let p = values.get(ref);
  if (!p) {
    p = read(parseSecretRef(ref));
    values.set(ref, p);
    p.catch(() => values.delete(ref));
  }
  return p;
}

/** The variables a chunk of `task` runs with: its env, and its secrets once read. */
export async function varsOf(task: Task, read: SecretReader | undefined): Promise<Vars> {
  const secrets = task.secrets;
  if (!secrets) return task.env;
  const known = merged.get(secrets);
  if (known) return known;
  if (!read) throw new Error("fanout worker: this worker has no way to read secrets");
  const names = Object.keys(secrets);
  const got = await Promise.all(
    names.map((n) =>
      secretValue(secrets[n]!, read).catch((err: unknown) => {
        if (err instanceof SecretError) {
          err.message = `secret ${n} (${secrets[n]}): ${err.message}`;
          // The frames are fanout's, not the job's: the message says it all.
          err.stack = `${err.name}: ${err.message}`;
        }
        throw err;
      }),
    ),
  );
  const vars: Record<string, string> = { ...task.env };
  names.forEach((n, i) => (vars[n] = got[i]!));
  merged.set(secrets, vars);
  return vars;
}
