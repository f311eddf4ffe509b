/**
 * A run's variables in process.env while its chunks run, and only then. process.env is one
 * per process, and a local worker process overlaps many chunks (and may serve several runs);
 * a warm Lambda container serves one invocation after another. So the variables are set when
 * the first chunk of a set enters and restored when the last one leaves; chunks of the same
 * run (one variable set) overlap as before, while a chunk with a different set (or none)
 * waits until the process is free of the other. A chunk's async work that outlives the chunk
 * (a timer it did not await) runs after the restore and does not see the variables.
 */

/** A chunk's variables: a run's env and resolved secrets, one object per run and process. */
export type Vars = Record<string, string> | undefined;

/** Leaves the scope: the last chunk out restores process.env. Call once. */
export type Release = () => void;

let active: Vars;
let holders = 0;
/** The values the active set replaced (undefined: the variable was not set). */
let saved: [string, string | undefined][] = [];
const waiting: { vars: Vars; enter: (release: Release) => void }[] = [];

/**
 * Enter the scope of `vars`: at once (a Release) when the process runs no chunk or only
 * chunks with the same set, else a promise that resolves when it may.
 */
export function enterVars(vars: Vars): Release | Promise<Release> {
  if (holders === 0) apply(vars);
  else if (!sameVars(active, vars)) return new Promise((enter) => waiting.push({ vars, enter }));
  holders++;
  return release;
}

function release(): void {
  if (--holders > 0) return;
  restore();
  if (waiting.length === 0) return;
  // The first waiter's set goes in, with every other waiter of that set.
  const next = waiting[0]!.vars;
  apply(next);
  for (let i = 0; i < waiting.length; ) {
    if (!sameVars(waiting[i]!.vars, next)) {
      i++;
      continue;
    }
    holders++;
    waiting.splice(i, 1)[0]!.enter(release);
  }
}

function apply(vars: Vars): void {
  active = vars;
  if (!vars) return;
  saved = Object.keys(vars).map((k) => [k, process.env[k]]);
  Object.assign(process.env, vars);
}

function restore(): void {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  saved = [];
  active = undefined;
}

/** The same set: the same object (one per run in a process), or equal contents (a Lambda event each). */
function sameVars(a: Vars, b: Vars): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/**
 * Replaces every value of `vars` in `text` with `***`, so a chunk that logs a secret or puts
 * it in an error does not write it to the store. Values shorter than 4 characters are left:
 * masking "1" would garble every number.
 */
export function redact(text: string, vars: Vars): string {
  if (!vars) return text;
  for (const v of Object.values(vars)) if (v.length >= 4 && text.includes(v)) text = text.replaceAll(v, "***");
  return text;
}
