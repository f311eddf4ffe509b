// A Lambda Invoke API on 127.0.0.1 that answers every invoke at once with a successful
// fanout reply envelope, so only the client side of dispatch is measured (case d).
import * as http from "node:http";

/** A task envelope as the executor sends it; the fake echoes its runId, index and attempt. */
export function fakeTask(index, count) {
  return {
    v: 1,
    runId: "20260101T000000Z-bench0",
    count,
    bundle: { key: "bundles/0.mjs", sha256: "0" },
    export: "default",
    timeoutMs: 60_000,
    inlineLimit: 262144,
    index,
    attempt: 1,
    source: { kind: "inline", value: null },
  };
}

function reply(task) {
  const now = Date.now();
  return JSON.stringify({
    v: 1,
    runId: task.runId,
    index: task.index,
    attempt: task.attempt,
    ok: true,
    timing: { startedAt: now, endedAt: now, loadMs: 0, coldStart: false },
    logs: [],
    worker: { platform: "lambda", id: "loopback", memoryMb: 1024 },
    bytes: 0,
  });
}

export async function startFakeLambda() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let task = {};
      try {
        task = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {}
      res.writeHead(200, { "content-type": "application/json", "x-amz-executed-version": "$LATEST", "x-amzn-requestid": String(Date.now()) });
      res.end(reply(task));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, close: () => server.close() };
}

/** Throws unless `r` is the fake's ok reply to chunk `index`: every reply is checked. */
export function checkReply(r, index, who) {
  if (!r || r.ok !== true || r.index !== index) throw new Error(`${who}: reply to invoke ${index} is not ok: ${JSON.stringify(r).slice(0, 200)}`);
}
