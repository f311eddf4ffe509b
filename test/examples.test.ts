import { describe, expect, it } from "vitest";
import { fanout } from "./helpers/cli.js";

describe("examples on the local backend, through the CLI", () => {
  it("primes.ts counts 664579 primes below 10^7", async () => {
    const r = await fanout(["run", "examples/primes.ts", "--chunks", "64", "--store", ".fanout-test", "-q"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBe(664579);
  });
});
