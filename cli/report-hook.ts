import * as fs from "node:fs";
import { renderReport } from "../src/report/report.js";
import type { AttemptRecord, RunSummary } from "../src/types.js";

export async function writeReport(file: string, res: { summary: RunSummary; attempts: AttemptRecord[] }): Promise<void> {
  fs.writeFileSync(file, renderReport({ summary: res.summary, attempts: res.attempts }));
  process.stderr.write(`report: ${file}\n`);
}
