// A chunk that does nothing: measures fanout's own cost per chunk through the whole path.
import { defineJob, range } from "fanout";

export default defineJob({
  input: range(0, Number(process.env.FANOUT_NOOP_ITEMS ?? 1e9)),
  map: () => undefined,
  reduce: (r) => r.length,
});
