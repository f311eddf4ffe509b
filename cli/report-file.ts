// Writing `--report <file.html>` for run and bench. Imported when a report is asked for: the
// report renderer is not part of the CLI's start-up.
import * as fs from "node:fs";
import { renderReport } from "../src/report/report.js";
import type { ReportInput } from "../src/report/types.js";

export function writeReport(file: string, input: ReportInput, tell: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  fs.writeFileSync(file, renderReport(input));
  tell(`report: ${file}`);
}
