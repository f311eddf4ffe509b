/**
 * Whether a module's export can be run, with one message for the client (which checks before
 * a run starts) and the worker (which checks again, in case the bundle differs): a problem and
 * its fix, made into the caller's own error. Imports only the job contract.
 */
import { isJob } from "./index.js";

/** Why an export cannot be run: the problem, and how to fix it. */
export interface ExportProblem {
  problem: string;
  fix: string;
}

/** Why `value`, the default export of `where` (a file, or "the bundle"), is not a job; undefined when it is one. */
export function notAJob(value: unknown, where: string): ExportProblem | undefined {
  if (isJob(value)) return undefined;
  if (value === undefined) {
    return { problem: `${where} has no default export`, fix: "end the module with `export default defineJob({ input, map, reduce })`" };
  }
  return { problem: `the default export of ${where} is not a job (it is ${describe(value)})`, fix: 'export default defineJob({ ... }) from "fanout"' };
}

/** Why `value`, the export `name` of `where`, is not a function; undefined when it is one. */
export function notAFunction(value: unknown, name: string, where: string): ExportProblem | undefined {
  if (typeof value === "function") return undefined;
  return { problem: `${where} has no exported function "${name}"`, fix: `export function ${name}(input) { ... }` };
}

/** What `ctx.asset(name)` says for a name the job does not ship (`names`: those it does). */
export function notAnAsset(name: string, names: readonly string[]): string {
  const has = names.length ? `its assets: ${names.join(", ")}` : "it lists no assets";
  return `ctx.asset(${JSON.stringify(name)}): the job ships no asset of that name (${has}); add it to assets: [...] in defineJob, as a path relative to the job file's folder`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "function") return "a function; wrap it: defineJob({ input, map: yourFunction })";
  if (typeof v === "object") return "an object not made by defineJob";
  return `a ${typeof v}`;
}
