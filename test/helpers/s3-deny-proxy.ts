import * as http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback proxy in front of an S3 endpoint (s3rver) that answers object reads in `bucket`
 * as S3 does for a caller without s3:GetObject: 403 AccessDenied
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, "AccessDenied").
 * Listing and everything else pass through, so planning works and only the workers' reads fail.
 */
export async function startS3DenyProxy(upstreamUrl: string, bucket: string): Promise<{ url: string; denied: () => number; close(): void }> {
  const upstream = new URL(upstreamUrl);
  const objectRead = new RegExp(`^/${bucket}/[^?]+`);
  let denied = 0;
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && objectRead.test(req.url ?? "")) {
      denied++;
      req.resume();
      res.writeHead(403, { "content-type": "application/xml" });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>');
      return;
    }
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, denied: () => denied, close: () => server.close() };
}
