// HTTP status codes counted over every access log under an S3 prefix (FANOUT_LOGS_URL,
// default s3://my-logs/access/): the workers read their own byte ranges of the objects with
// ranged GETs; gzip logs are read whole. Credentials are your standard AWS chain; on AWS the
// workers need `fanout deploy --read <the prefix>`. An S3-compatible store: AWS_ENDPOINT_URL_S3.
import { defineJob, lines } from "fanout";

const URL = process.env.FANOUT_LOGS_URL ?? "s3://my-logs/access/";

/** The status of a Common/Combined Log Format line: the number after the quoted request. */
const STATUS = /" (\d{3}) /;

export default defineJob({
  input: lines(URL),
  map(chunk) {
    const counts: Record<string, number> = {};
    for (const line of chunk) {
      const status = STATUS.exec(line)?.[1];
      if (status) counts[status] = (counts[status] ?? 0) + 1;
    }
    return counts;
  },
  reduce(results) {
    const total: Record<string, number> = {};
    for (const r of results) for (const [k, n] of Object.entries(r)) total[k] = (total[k] ?? 0) + n;
    return Object.fromEntries(Object.entries(total).sort(([a], [b]) => (a < b ? -1 : 1)));
  },
  defaults: { chunks: 16 },
});
