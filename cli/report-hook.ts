import * as fs from "node:fs";
import type { RunResult } from "../src/run/run.js";
import { renderReport } from "../src/report/report.js";

export async function writeReport(file: string, res: RunResult): Promise<void> {
  fs.writeFileSync(file, renderReport({ summary: res.summary, attempts: res.attempts }));
  process.stderr.write(`report: ${file}\n`);
}
