/**
 * A loopback proxy in front of serverless-offline's Lambda endpoint that behaves as real Lambda
 * does where the emulator is kinder: concurrency limits and 429s, the 6 MB response limit,
 * dropped connections, IAM denials, init errors, the Node runtime's exit on an uncaught error,
 * and GetAccountSettings. Each behaviour is off unless a test asks for it, except the response
 * limit, which Lambda always enforces. The answers and their sources are in lambda-answers.ts.
 */
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import {
  ACCOUNT,
  accessDenied,
  accountSettings,
  initFailure,
  json,
  RESPONSE_LIMIT,
  responseTooLarge,
  runtimeExited,
  tooManyRequests,
  uncaughtError,
  type Answer,
  type ChunkError,
} from "./lambda-answers.js";

export { RESPONSE_LIMIT };

/** What the proxy reads of an Invoke: the function and fanout's task JSON (index, attempt). */
interface InvokedTask {
  functionName: string;
  /** The run of the task or driver event. */
  runId?: string;
  index?: number;
  attempt?: number;
  /** A detached run's driver event: the generation it names. */
  driver?: number;
  /** X-Amz-Invocation-Type: "Event" for an asynchronous invocation. */
  type?: string;
}

/** Which invocations a behaviour applies to: the first K that reach it, or those a predicate picks. */
type Select = number | ((task: InvokedTask) => boolean);

export interface LambdaProxyOptions {
  /** At most this many invocations in flight (dropped ones count until they finish); beyond, 429. */
  concurrency?: number;
  /** Refuse these invocations with 429 whatever is in flight. */
  throttle?: Select;
  /** Sent as `Retry-After` on a 429 (whether Lambda sends it is unconfirmed; the SDK reads it as retryAfterSeconds). */
  retryAfterSeconds?: number;
  /** Largest function response in bytes; default Lambda's 6,291,556; false to lift it. */
  responseLimit?: number | false;
  /** Forward these upstream, then reset the client's connection while they run on. */
  drop?: Select;
  /** Answer these with 403 AccessDeniedException, as IAM does without lambda:InvokeFunction. */
  deny?: Select;
  /** The function's init fails: these invocations never reach the handler. */
  initError?: { type: "Runtime.ImportModuleError" | "Runtime.HandlerNotFound"; when?: Select };
  /**
   * Which chunk errors came from a stray callback, which the real Node runtime's own handlers
   * catch, report as the invoke's error and then exit on: true for an uncaught exception,
   * "rejection" for an unhandled rejection. Called for each `{ ok: false }` reply.
   */
  uncaught?: (task: InvokedTask, error: ChunkError) => boolean | "rejection";
  /** The runtime process dies mid-invoke; `error` defaults to a V8 heap OOM's "signal: aborted". */
  runtimeExit?: { when: Select; error?: string };
  /** Answer GetAccountSettings with this account concurrency, or deny it; unset passes it on. */
  accountConcurrency?: number | "denied";
  /**
   * Accept these asynchronous (Event) invocations with 202 and never run them: Lambda's event
   * queue may drop an event, and a container may die before it runs it
   * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
   */
  dropEvents?: Select;
  /** Called for every invocation that reaches the proxy, before any behaviour applies. */
  onInvoke?: (task: InvokedTask) => void;
}

interface LambdaProxyStats {
  /** Invocations forwarded upstream. */
  invoked: number;
  inFlight: number;
  inFlightPeak: number;
  /** Answered 429. */
  refused: number;
  /** Connections reset mid-invoke, and how many of those invocations have since finished upstream. */
  dropped: number;
  droppedFinished: number;
  responsesTooLarge: number;
  denied: number;
  initErrors: number;
  uncaught: number;
  runtimeExits: number;
  /** Asynchronous (Event) invocations accepted, and those of them dropped. */
  events: number;
  eventsDropped: number;
}

export interface LambdaProxy {
  url: string;
  stats: LambdaProxyStats;
  setOptions(partial: Partial<LambdaProxyOptions>): void;
  /** Resolves once no invocation is running upstream (dropped ones included). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations(?:\?|$)/;
const ACCOUNT_SETTINGS = /^\/2016-08-19\/account-settings\/?(?:\?|$)/;

function picker(s: Select | undefined): (t: InvokedTask) => boolean {
  if (typeof s === "function") return s;
  let left = s ?? 0;
  return () => left > 0 && left-- > 0;
}

function parseTask(functionName: string, body: Buffer, type: string | undefined): InvokedTask {
  const base: InvokedTask = { functionName, ...(type ? { type } : {}) };
  try {
    const t = JSON.parse(body.toString("utf8")) as { runId?: unknown; index?: unknown; attempt?: unknown; driver?: { runId?: unknown; generation?: unknown } };
    const runId = t.runId ?? t.driver?.runId;
    return {
      ...base,
      ...(typeof runId === "string" ? { runId } : {}),
      ...(typeof t.index === "number" ? { index: t.index } : {}),
      ...(typeof t.attempt === "number" ? { attempt: t.attempt } : {}),
      ...(typeof t.driver?.generation === "number" ? { driver: t.driver.generation } : {}),
    };
  } catch {
    return base;
  }
}

/** The chunk error in a worker's `{ ok: false, error }` reply, if that is what the body is. */
function chunkError(up: Answer): ChunkError | undefined {
  if (up.status !== 200 || up.headers["x-amz-function-error"]) return undefined;
  try {
    const r = JSON.parse(up.body.toString("utf8")) as { ok?: unknown; error?: ChunkError };
    return r.ok === false && r.error ? r.error : undefined;
  } catch {
    return undefined;
  }
}

/** The region the SDK signed for (SigV4 credential scope), so denials name a plausible ARN. */
function signedRegion(req: http.IncomingMessage): string {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1] ?? "us-east-1";
}

const readAll = (s: NodeJS.ReadableStream): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });

/** Headers of one hop, which the proxy sets itself for the body it sends. */
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

function send(res: http.ServerResponse, a: Answer): void {
  const headers = Object.fromEntries(Object.entries(a.headers).filter(([k]) => !HOP.has(k)));
  res.writeHead(a.status, { ...headers, "content-length": String(a.body.length) });
  res.end(a.body);
}

export async function startLambdaProxy(upstreamUrl: string, options: LambdaProxyOptions = {}): Promise<LambdaProxy> {
  const dest = new URL(upstreamUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  let opts: LambdaProxyOptions = {};
  const pick = { throttle: picker(undefined), drop: picker(undefined), deny: picker(undefined), init: picker(undefined), exit: picker(undefined), dropEvent: picker(undefined) };
  const stats: LambdaProxyStats = { invoked: 0, inFlight: 0, inFlightPeak: 0, refused: 0, dropped: 0, droppedFinished: 0, responsesTooLarge: 0, denied: 0, initErrors: 0, uncaught: 0, runtimeExits: 0, events: 0, eventsDropped: 0 };
  let idleWaiters: (() => void)[] = [];

  // Only the behaviours named in `partial` start counting afresh.
  const setOptions = (partial: Partial<LambdaProxyOptions>) => {
    opts = { ...opts, ...partial };
    if ("throttle" in partial) pick.throttle = picker(partial.throttle);
    if ("drop" in partial) pick.drop = picker(partial.drop);
    if ("deny" in partial) pick.deny = picker(partial.deny);
    if ("initError" in partial) pick.init = partial.initError ? picker(partial.initError.when ?? (() => true)) : picker(undefined);
    if ("runtimeExit" in partial) pick.exit = picker(partial.runtimeExit?.when);
    if ("dropEvents" in partial) pick.dropEvent = picker(partial.dropEvents);
  };
  setOptions(options);

  /** Forward a request; `onSent` runs once it is on its way. Upstream runs on whatever the client does. */
  const forward = (req: http.IncomingMessage, body: Buffer, onSent?: () => void): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const up = http.request({ host: dest.hostname, port: dest.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
        readAll(r).then((b) => resolve({ status: r.statusCode ?? 502, headers: r.headers as Record<string, string>, body: b }), reject);
      });
      up.on("error", reject);
      if (onSent) up.on("finish", onSent);
      up.end(body);
    });

  /** What the client gets for an invocation that ran upstream. */
  const shape = (task: InvokedTask, up: Answer): Answer => {
    const requestId = up.headers["x-amzn-requestid"] ?? randomUUID();
    if (pick.exit(task)) {
      stats.runtimeExits++;
      return runtimeExited(requestId, opts.runtimeExit?.error ?? "signal: aborted");
    }
    const err = opts.uncaught ? chunkError(up) : undefined;
    const how = err && opts.uncaught!(task, err);
    if (err && how) {
      stats.uncaught++;
      return uncaughtError(requestId, err, how === "rejection");
    }
    const limit = opts.responseLimit ?? RESPONSE_LIMIT;
    if (limit !== false && up.status === 200 && up.body.length > limit) {
      stats.responsesTooLarge++;
      return responseTooLarge(requestId, limit);
    }
    return up;
  };

  const invoke = async (req: http.IncomingMessage, res: http.ServerResponse, task: InvokedTask, body: Buffer) => {
    opts.onInvoke?.(task);
    if (task.type === "Event") {
      // Queued by Lambda: 202 at once, whatever becomes of the event (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
      stats.events++;
      if (pick.dropEvent(task)) {
        stats.eventsDropped++;
        return send(res, { status: 202, headers: { "x-amzn-requestid": randomUUID() }, body: Buffer.alloc(0) });
      }
      return send(res, await forward(req, body));
    }
    if (pick.deny(task)) {
      stats.denied++;
      return send(res, accessDenied("lambda:InvokeFunction", `arn:aws:lambda:${signedRegion(req)}:${ACCOUNT}:function:${task.functionName}`));
    }
    if (pick.throttle(task) || stats.inFlight >= (opts.concurrency ?? Infinity)) {
      stats.refused++;
      return send(res, tooManyRequests(opts.retryAfterSeconds));
    }
    if (opts.initError && pick.init(task)) {
      stats.initErrors++;
      return send(res, initFailure(opts.initError.type));
    }
    stats.invoked++;
    stats.inFlightPeak = Math.max(stats.inFlightPeak, ++stats.inFlight);
    // A client that disconnects does not stop a synchronous invocation: it runs on, billed,
    // holding concurrency (https://github.com/danmoz/caddy-lambda/issues/69; no AWS doc sentence says so).
    const dropped = pick.drop(task);
    const reset = () => {
      stats.dropped++;
      req.socket.resetAndDestroy();
    };
    let up: Answer;
    try {
      up = await forward(req, body, dropped ? reset : undefined);
    } finally {
      stats.inFlight--;
      if (dropped) stats.droppedFinished++;
      if (stats.inFlight === 0) for (const w of idleWaiters.splice(0)) w();
    }
    if (!dropped) send(res, shape(task, up));
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = await readAll(req);
    const url = req.url ?? "/";
    const fn = INVOKE.exec(url);
    if (req.method === "POST" && fn) {
      const type = req.headers["x-amz-invocation-type"];
      return invoke(req, res, parseTask(decodeURIComponent(fn[1]!), body, typeof type === "string" ? type : undefined), body);
    }
    if (req.method === "GET" && ACCOUNT_SETTINGS.test(url) && opts.accountConcurrency !== undefined) {
      return send(res, opts.accountConcurrency === "denied" ? accessDenied("lambda:GetAccountSettings", "*") : accountSettings(opts.accountConcurrency));
    }
    send(res, await forward(req, body));
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent || req.socket.destroyed) return;
      send(res, json(502, {}, { message: `lambda proxy: ${String(e)}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    setOptions,
    idle: () => (stats.inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
        idleWaiters = [];
      }),
  };
}
