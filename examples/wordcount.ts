// Word frequencies of a text file (FANOUT_WORDCOUNT_FILE, default examples/data/words.txt).
// Each chunk reads only its own byte range of the file and gets whole lines.
import { defineJob, lines } from "fanout";

const FILE = process.env.FANOUT_WORDCOUNT_FILE ?? "examples/data/words.txt";

export function countWords(text: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text) {
    for (const w of line.toLowerCase().split(/[^\p{L}\p{N}']+/u)) {
      if (w) counts[w] = (counts[w] ?? 0) + 1;
    }
  }
  return counts;
}

export default defineJob({
  input: lines(FILE),
  map: (chunk, ctx) => {
    ctx.log(`chunk ${ctx.index}: ${chunk.length} lines`);
    return countWords(chunk);
  },
  reduce(parts) {
    const total: Record<string, number> = {};
    for (const part of parts) for (const [w, n] of Object.entries(part)) total[w] = (total[w] ?? 0) + n;
    // Most frequent first, so the printed result reads top-down.
    return Object.fromEntries(Object.entries(total).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  },
});
