/**
 * Results cross processes and S3 as JSON. JSON.stringify silently drops functions and
 * symbols and throws an unhelpful TypeError on BigInt and cycles, so values are checked with a
 * replacer that names the offending path instead.
 */
export class SerializeError extends Error {
  override name = "SerializeError";
}

export function toJson(value: unknown, what = "the map result"): string {
  if (value === undefined) return "null";
  const stack: unknown[] = [];
  const keysStack: string[] = [];
  let json: string | undefined;
  try {
    json = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
      // Track the path from the root to name the bad value; JSON.stringify calls depth-first.
      if (stack.length > 0) {
        while (stack.length > 0 && stack[stack.length - 1] !== this) {
          stack.pop();
          keysStack.pop();
        }
      }
      const where = () => `${what}${[...keysStack.slice(1), key].filter((k) => k !== "").map((k) => `.${k}`).join("")}`;
      switch (typeof v) {
        case "function":
          throw new SerializeError(`${where()} is a function, which cannot be sent as JSON`);
        case "symbol":
          throw new SerializeError(`${where()} is a symbol, which cannot be sent as JSON`);
        case "bigint":
          throw new SerializeError(`${where()} is a BigInt (${String(v)}n), which JSON cannot carry; return it as a string`);
        case "number":
          if (!Number.isFinite(v)) throw new SerializeError(`${where()} is ${String(v)}, which JSON cannot carry`);
          return v;
        case "object":
          if (v !== null) {
            if (stack.includes(v)) throw new SerializeError(`${where()} refers back to itself (a cycle), which JSON cannot carry`);
            stack.push(v);
            keysStack.push(key);
          }
          return v;
        default:
          return v;
      }
    });
  } catch (err) {
    if (err instanceof SerializeError) throw err;
    throw new SerializeError(`${what} cannot be sent as JSON: ${(err as Error).message}`);
  }
  return json ?? "null";
}
