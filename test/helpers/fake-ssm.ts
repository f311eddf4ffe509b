/**
 * A loopback SSM Parameter Store for secret reads, which the emulated stack cannot serve.
 * It speaks AWS JSON 1.1 as the SDK does ("AmazonSSM.GetParameter" in X-Amz-Target; errors
 * as HTTP 400 with `__type`), shapes from the GetParameter API reference:
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html
 * Point the SDK at it with AWS_ENDPOINT_URL_SSM (the SDK's standard per-service endpoint variable).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeSsm {
  url: string;
  /** Every GetParameter request's Name, in order. */
  reads: string[];
  close(): Promise<void>;
}

/** `params`: name to value; `denied`: names whose read is AccessDenied (the role lacks the grant). */
export async function startFakeSsm(params: Record<string, string>, denied: string[] = []): Promise<FakeSsm> {
  const reads: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(json));
      };
      if (req.headers["x-amz-target"] !== "AmazonSSM.GetParameter") return send(400, { __type: "UnknownOperationException" });
      const { Name } = JSON.parse(body) as { Name: string };
      reads.push(Name);
      if (denied.includes(Name)) {
        return send(400, { __type: "AccessDeniedException", Message: `User: arn:aws:sts::000000000000:assumed-role/fanout-worker is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:000000000000:parameter${Name}` });
      }
      const value = params[Name];
      if (value === undefined) return send(400, { __type: "ParameterNotFound", message: "" });
      send(200, { Parameter: { ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${Name}`, DataType: "text", LastModifiedDate: 1700000000.123, Name, Type: "SecureString", Value: value, Version: 1 } });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reads,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
