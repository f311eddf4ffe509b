import type { AttemptRecord, RunSummary } from "./types.js";

export interface ReportInput {
  summary: RunSummary;
  attempts: AttemptRecord[];
  title?: string;
}

/** Placeholder replaced by the report module (issue 5). */
export function renderReport(input: ReportInput): string {
  return `<!doctype html><title>fanout ${input.summary.runId}</title><pre>${JSON.stringify(input.summary, null, 2)}</pre>`;
}
