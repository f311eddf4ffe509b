// Bench case g: the bytes of every line of an S3 object (FANOUT_BENCH_S3_URL), read by the
// workers through lines("s3://...") with ranged GETs. Returns [lines, bytes] per chunk.
import { defineJob, lines } from "fanout";

export default defineJob({
  input: lines(process.env.FANOUT_BENCH_S3_URL ?? "s3://bench-in/data.txt"),
  map(chunk) {
    let bytes = 0;
    for (const l of chunk) bytes += Buffer.byteLength(l) + 1;
    return [chunk.length, bytes] as [number, number];
  },
  reduce: (rs) => rs.reduce(([n, b], [n2, b2]) => [n + n2, b + b2], [0, 0]),
});
