import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the proxy passed on. */
export interface LoggedRequest {
  method: string;
  url: string;
}

/**
 * A loopback proxy in front of an S3 endpoint (s3rver) that logs every request it passes on
 * (method and path with query), so a test can count what a listing or a read costs in
 * requests, as S3 bills them (https://aws.amazon.com/s3/pricing/, "Requests & data retrievals").
 */
export async function startS3LogProxy(upstreamUrl: string): Promise<{ url: string; log: LoggedRequest[]; close(): Promise<void> }> {
  const upstream = new URL(upstreamUrl);
  const log: LoggedRequest[] = [];
  const server = http.createServer((req, res) => {
    log.push({ method: req.method ?? "", url: req.url ?? "" });
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
