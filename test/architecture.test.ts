import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkApi } from "../scripts/api-report.js";
import { LIMIT, longFunctions } from "../scripts/long-functions.js";

// The habits of issue 9, checked on every `npm test` (and so in CI): the import rules of
// .dependency-cruiser.cjs, knip's unused files/exports/dependencies (knip.json), and the
// public API in docs/api.md with TSDoc on every exported name. These read the TypeScript
// sources, not dist/.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function tool(bin: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(path.join(ROOT, "node_modules/.bin", bin), args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe("architecture", () => {
  it("imports follow the rules of .dependency-cruiser.cjs (no cycles, cli -> src <- worker, layers one way)", () => {
    const r = tool("depcruise", ["src", "cli", "worker", "--config", ".dependency-cruiser.cjs", "--output-type", "err"]);
    expect(r.status, `dependency-cruiser found violations (npm run lint:deps):\n${r.output}`).toBe(0);
  });

  it("knip finds no unused file, export or dependency", () => {
    const r = tool("knip", ["--no-progress", "--no-config-hints"]);
    expect(r.status, `knip found unused code or dependencies (npm run lint:unused):\n${r.output}`).toBe(0);
  });

  it(`no function over ${LIMIT} lines without a "Long:" reason above it`, () => {
    expect(longFunctions(ROOT), "split these, or write why they are long in a comment starting with \"Long:\" right above").toEqual([]);
  });

  describe("public API", () => {
    const api = checkApi(ROOT);

    it("matches docs/api.md", () => {
      expect(api.actual, "the public API changed: if that is meant, run `node scripts/api-report.js` and commit docs/api.md").toBe(api.expected);
    });

    it("has a TSDoc comment on every exported name", () => {
      expect(api.undocumented, "exported names without a TSDoc comment: add a /** ... */ comment to each declaration").toEqual([]);
    });
  });
});
