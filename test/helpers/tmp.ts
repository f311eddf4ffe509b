import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A fresh folder under the OS temp dir (one per test file keeps parallel files apart). */
export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fanout-test-${prefix}-`));
}

/** Remove a folder made by tmpDir (best effort). */
export function rmDir(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** Every file under `dir`, read as text (to show a value never reached the disk in clear). */
export function allText(dir: string): string {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => fs.readFileSync(path.join(e.parentPath, e.name), "latin1"))
    .join("\n");
}

/** The stderr lines that start with "fanout: " (the error lines of the CLI). */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("fanout: "));
}

/** Lines that look like a JavaScript stack frame. */
export function stackLines(text: string): string[] {
  return text.split("\n").filter((l) => /^\s+at .+/.test(l));
}

/** The run id named in a CLI error line or notice. */
export function runIdIn(text: string): string {
  const m = /\b(\d{8}T\d{6}Z-[a-z0-9]{6})\b/.exec(text);
  if (!m) throw new Error(`no run id in: ${text}`);
  return m[1]!;
}
