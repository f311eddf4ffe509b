import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the proxy passed on or answered. */
export interface LoggedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface S3ProxyOptions {
  /**
   * Enforce `If-None-Match: *` on PutObject as S3 does and s3rver does not: 412
   * PreconditionFailed when the key exists, one winner among concurrent writers ("How to
   * prevent object overwrites with conditional writes",
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
   */
  conditionalWrites?: boolean;
  /**
   * Serve UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source and
   * x-amz-copy-source-range), which s3rver lacks, as S3 does: the part is the source's byte
   * range ("Copying objects using the multipart upload API",
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/CopyingObjectsMPUapi.html;
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html).
   */
  uploadPartCopy?: boolean;
}

/**
 * A loopback proxy in front of an S3 endpoint (s3rver): it logs every request (so a test can
 * count what an operation costs in requests, as S3 bills them), and optionally behaves as S3
 * documents where s3rver does not (see S3ProxyOptions). s3rver takes unsigned requests, so the
 * proxy's own requests to it need no signature.
 */
export async function startS3Proxy(upstreamUrl: string, opts: S3ProxyOptions = {}): Promise<{ url: string; log: LoggedRequest[]; close(): Promise<void> }> {
  const upstream = new URL(upstreamUrl);
  const log: LoggedRequest[] = [];
  /** Per key, the conditional write in progress: S3 decides concurrent ones one at a time. */
  const locks = new Map<string, Promise<unknown>>();

  const send = (method: string, path: string, headers: http.OutgoingHttpHeaders, body?: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const out = http.request({ host: upstream.hostname, port: upstream.port, method, path, headers }, (up) => {
        const bufs: Buffer[] = [];
        up.on("data", (b: Buffer) => bufs.push(b));
        up.on("end", () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(bufs) }));
      });
      out.on("error", reject);
      out.end(body);
    });
  const pass = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) =>
    send(req.method ?? "GET", req.url ?? "/", req.headers, body).then((up) => {
      res.writeHead(up.status, up.headers);
      res.end(up.body);
    });
  const xmlError = (res: http.ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { "content-type": "application/xml" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>1</RequestId></Error>`);
  };

  async function conditionalPut(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const key = (req.url ?? "/").split("?")[0]!;
    const before = locks.get(key) ?? Promise.resolve();
    const mine = before.then(async () => {
      const head = await send("HEAD", key, {});
      if (head.status === 200) return xmlError(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
      await pass(req, res, body);
    });
    locks.set(key, mine.catch(() => {}));
    await mine;
  }

  async function partCopy(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const source = "/" + decodeURIComponent(String(req.headers["x-amz-copy-source"]).replace(/^\//, ""));
    const range = req.headers["x-amz-copy-source-range"];
    const got = await send("GET", source.split("/").map(encodeURIComponent).join("/"), range ? { range: String(range) } : {});
    if (got.status !== 200 && got.status !== 206) return xmlError(res, got.status, "NoSuchKey", "The specified key does not exist.");
    const put = await send("PUT", req.url ?? "/", { "content-length": got.body.length }, got.body);
    res.writeHead(put.status, { "content-type": "application/xml" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><LastModified>${new Date().toISOString()}</LastModified><ETag>${put.headers.etag ?? ""}</ETag></CopyPartResult>`);
  }

  const server = http.createServer((req, res) => {
    log.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const bufs: Buffer[] = [];
    req.on("data", (b: Buffer) => bufs.push(b));
    req.on("end", () => {
      const body = Buffer.concat(bufs);
      const url = req.url ?? "";
      let done: Promise<void>;
      if (opts.uploadPartCopy && req.method === "PUT" && url.includes("uploadId=") && req.headers["x-amz-copy-source"]) done = partCopy(req, res);
      else if (opts.conditionalWrites && req.method === "PUT" && req.headers["if-none-match"] === "*" && !url.includes("uploadId=")) done = conditionalPut(req, res, body);
      else done = pass(req, res, body);
      done.catch((err: Error) => xmlError(res, 500, "InternalError", err.message));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
