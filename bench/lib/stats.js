// Repeated measurements: the median and the spread (min–max) of each figure.

/** { median, min, max, n } of a list of numbers (the median of an even count is the mean of the middle two). */
function spread(values) {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = xs.length >> 1;
  const median = xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
  return { median, min: xs[0], max: xs[xs.length - 1], n: xs.length };
}

/** True when two spreads share any value: the difference between them is not measurable. */
export const overlaps = (a, b) => a.min <= b.max && b.min <= a.max;

/** The values of one field across repetitions, as a spread. */
export const spreadOf = (reps, pick) => spread(reps.map(pick));

/** "median (min–max)" with a formatter for each number; "–" when nothing was measured. */
export function fmtSpread(s, fmt) {
  if (!s || s.n === 0) return "–";
  if (s.n === 1) return fmt(s.median);
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** Ratio of two medians, "–" when either is missing. */
export function ratioOf(a, b) {
  const r = a?.median / b?.median;
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "–";
}

/** Repetition i runs the sides in this order: as given on even repetitions, reversed on odd ones. */
export const alternate = (sides, i) => (i % 2 === 0 ? [...sides] : [...sides].reverse());
