/** What a report is made from. */
import type { CostEstimate } from "../bench/cost.js";
import type { SweepReport } from "../bench/sweep.js";
import type { RunSummary, AttemptRecord } from "../types.js";

/** A baseline the run is compared with (fanout bench). */
export interface ReportCompare {
  /** e.g. "sequential, in-process" */
  label: string;
  wallMs: number;
  sumChunkMs?: number;
  /** Set when the baseline ran only some chunks and its wall time is extrapolated. */
  sample?: { ran: number; chunks: number };
  /** Whether the baseline and the run gave deeply equal results; undefined = not compared. */
  resultsEqual?: boolean;
  note?: string;
}

export interface ReportInput {
  summary: RunSummary;
  attempts: AttemptRecord[];
  title?: string;
  compare?: ReportCompare;
  cost?: CostEstimate;
  /** The job file, shown in the header. */
  job?: string;
  /** Errors of failed chunks (messages are shown escaped). */
  errors?: { index: number; kind?: string; message: string }[];
  notes?: string[];
  /** A bench memory sweep: its tiers side by side (this report's run is the recommended tier's). */
  sweep?: SweepReport;
}
