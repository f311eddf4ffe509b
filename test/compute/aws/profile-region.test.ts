// Issue 10, defects 1 and 2: one profile and one region for every AWS call fanout makes.
// A loopback fake of Lambda and S3 records the access key id and the region of each request's
// SigV4 credential scope (Credential=<key>/<date>/<region>/<service>/aws4_request,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html),
// so a request signed by the wrong profile, or for the wrong region, shows.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { oslsArgs, stackPlace } from "../../../dist/cli/serverless.js";
import { fanout } from "../../helpers/cli.js";

interface Signed {
  service: string;
  key: string;
  region: string;
  method: string;
  url: string;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-profiles-"));
const CONFIG = path.join(dir, "config");
const CREDENTIALS = path.join(dir, "credentials");
// Two profiles: the default one in us-west-2, profile p in eu-west-3 with keys of its own.
fs.writeFileSync(CONFIG, "[default]\nregion = us-west-2\n\n[profile p]\nregion = eu-west-3\n");
fs.writeFileSync(CREDENTIALS, "[default]\naws_access_key_id = AKIADEFAULTKEY\naws_secret_access_key = d\n\n[p]\naws_access_key_id = AKIAPROFILEPKEY\naws_secret_access_key = p\n");

/** The one object under the input prefix s3://bkt/in/. */
const INPUT = '1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 5\n';

let signed: Signed[] = [];
let server: http.Server;
let url = "";

/** Answers as Lambda and S3 do, just enough for a run to start: the function exists, every chunk fails as a user error. */
function answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
  const u = req.url ?? "";
  if (u.startsWith("/2015-03-31/functions/") && u.endsWith("/configuration")) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ FunctionName: "fn", MemorySize: 2048, Architectures: ["x86_64"] }));
  } else if (u.startsWith("/2015-03-31/functions/") && u.includes("/invocations")) {
    const task = JSON.parse(body) as { runId: string; index: number; attempt: number; bundle: { sha256: string } };
    const now = Date.now();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        v: 1, runId: task.runId, index: task.index, attempt: task.attempt, ok: false,
        error: { kind: "user", name: "Error", message: "the fake Lambda runs nothing" },
        timing: { startedAt: now, endedAt: now, loadMs: 0, coldStart: false }, logs: [],
        worker: { platform: "fake", id: "fake" }, bundleSha256: task.bundle.sha256, bytes: 0,
      }),
    );
  } else if (req.method === "GET" && u.includes("list-type=2") && u.includes("prefix=in%2F")) {
    // The user's input prefix (lines("s3://bkt/in/")): one object.
    res.writeHead(200, { "content-type": "application/xml" });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><Prefix>in/</Prefix><IsTruncated>false</IsTruncated><KeyCount>1</KeyCount><Contents><Key>in/a.log</Key><Size>${INPUT.length}</Size><ETag>&quot;e1&quot;</ETag></Contents></ListBucketResult>`);
  } else if ((req.method === "GET" || req.method === "HEAD") && u.startsWith("/bkt/in/a.log")) {
    res.writeHead(200, { etag: '"e1"', "content-length": String(INPUT.length), "content-type": "text/plain" });
    res.end(req.method === "HEAD" ? undefined : INPUT);
  } else if (req.method === "GET" && u.includes("list-type=2")) {
    res.writeHead(200, { "content-type": "application/xml" });
    res.end('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>');
  } else if (req.method === "GET" || req.method === "HEAD") {
    res.writeHead(404, { "content-type": "application/xml" });
    res.end(req.method === "HEAD" ? undefined : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>');
  } else {
    res.writeHead(200, { etag: '"0"' });
    res.end();
  }
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const m = /Credential=([^/]+)\/\d+\/([^/]+)\/([^/]+)\//.exec(req.headers.authorization ?? "");
      signed.push({ key: m?.[1] ?? "unsigned", region: m?.[2] ?? "", service: m?.[3] ?? "", method: req.method ?? "", url: req.url ?? "" });
      answer(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  signed = [];
});

// Set empty, the SDK would take "" for a region or key: these are left out of the environment instead.
const UNSET = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
for (const k of UNSET) delete process.env[k];

/** Only the temp config files: no keys, region or profile from the environment, and no metadata lookups. */
const awsEnv = (more: Record<string, string> = {}): Record<string, string> => ({
  AWS_CONFIG_FILE: CONFIG,
  AWS_SHARED_CREDENTIALS_FILE: CREDENTIALS,
  AWS_EC2_METADATA_DISABLED: "true",
  // The SDK's own per-service endpoint variables: the CLI's clients go to the fake as they are.
  AWS_ENDPOINT_URL_LAMBDA: url,
  AWS_ENDPOINT_URL_S3: url,
  FANOUT_EMULATOR: "",
  ...more,
});

const services = () => [...new Set(signed.map((s) => s.service))].sort();

describe("--profile p signs every request with p's key (defect 1)", () => {
  it("run: Lambda's GetFunctionConfiguration and Invoke and every S3 request", async () => {
    const r = await fanout(["run", "examples/primes.ts", "-q", "--backend", "aws", "--profile", "p", "--region", "eu-west-3", "--function", "fn", "--bucket", "bkt", "--chunks", "2"], { env: awsEnv() });
    // The fake Lambda runs nothing, so the run fails; what matters is how it asked.
    expect(r.stderr).toMatch(/the fake Lambda runs nothing/);
    expect(services()).toEqual(["lambda", "s3"]);
    expect(signed.some((s) => s.service === "lambda" && s.url.includes("/invocations"))).toBe(true);
    expect(signed.some((s) => s.service === "s3" && s.method === "PUT")).toBe(true);
    expect([...new Set(signed.map((s) => s.key))]).toEqual(["AKIAPROFILEPKEY"]);
  });
});

describe("only AWS_PROFILE set: everything in that profile's region (defect 2)", () => {
  it("run signs Lambda and S3 for eu-west-3 with p's key", async () => {
    const r = await fanout(["run", "examples/primes.ts", "-q", "--backend", "aws", "--function", "fn", "--bucket", "bkt", "--chunks", "2"], { env: awsEnv({ AWS_PROFILE: "p" }) });
    expect(r.stderr).toMatch(/the fake Lambda runs nothing/);
    expect(services()).toEqual(["lambda", "s3"]);
    expect([...new Set(signed.map((s) => `${s.key} ${s.region}`))]).toEqual(["AKIAPROFILEPKEY eu-west-3"]);
  });

  it("status lists the bucket in eu-west-3", async () => {
    const r = await fanout(["status", "--backend", "aws", "--function", "fn", "--bucket", "bkt"], { env: awsEnv({ AWS_PROFILE: "p" }) });
    expect(r.code, r.stderr).toBe(0);
    expect(services()).toEqual(["s3"]);
    expect([...new Set(signed.map((s) => `${s.key} ${s.region}`))]).toEqual(["AKIAPROFILEPKEY eu-west-3"]);
  });

  it("deploy and teardown hand osls that region and profile", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, awsEnv({ AWS_PROFILE: "p" }));
    try {
      const at = await stackPlace({ stage: "dev" });
      expect(at).toEqual({ stage: "dev", region: "eu-west-3", profile: "p" });
      expect(oslsArgs("remove", at)).toEqual(["remove", "--stage", "dev", "--region", "eu-west-3", "--aws-profile", "p"]);
      expect(oslsArgs("deploy", at, ["--param=memory=2048"])).toEqual(["deploy", "--stage", "dev", "--region", "eu-west-3", "--aws-profile", "p", "--param=memory=2048"]);
      // A flag wins over the profile's region; with no profile anywhere, osls gets no --aws-profile (the env's keys stay usable).
      delete process.env.AWS_PROFILE;
      expect(await stackPlace({ stage: "x", region: "ap-south-1" })).toEqual({ stage: "x", region: "ap-south-1" });
      // The default profile's region, from the same config file.
      expect(await stackPlace({ stage: "x" })).toEqual({ stage: "x", region: "us-west-2" });
    } finally {
      process.env = saved;
    }
  });
});

// Issue 11: the client's own S3 requests for an s3:// input (ListObjectsV2, HEAD) and for the
// output sweep go with the run's profile and region too, not only the run store's.
describe("the listing of an s3:// input uses the run's profile and region", () => {
  const LOGS = { FANOUT_LOGS_URL: "s3://bkt/in/" };
  const listed = () => signed.filter((s) => s.service === "s3" && s.url.includes("prefix=in%2F"));

  it("aws: --profile p --region ap-south-1 signs the listing with p's key for ap-south-1", async () => {
    const r = await fanout(["run", "examples/logs.ts", "-q", "--backend", "aws", "--profile", "p", "--region", "ap-south-1", "--function", "fn", "--bucket", "bkt", "--chunks", "2"], { env: awsEnv(LOGS) });
    expect(r.stderr).toMatch(/the fake Lambda runs nothing/);
    expect(listed()).toHaveLength(1);
    expect([...new Set(signed.map((s) => `${s.key} ${s.region}`))]).toEqual(["AKIAPROFILEPKEY ap-south-1"]);
  });

  it("local: --profile p lists, and the workers read, with p's key in p's region (eu-west-3), not the default profile's", async () => {
    const r = await fanout(["run", "examples/logs.ts", "--json", "--profile", "p", "--chunks", "1", "--store", path.join(dir, "store")], { env: awsEnv(LOGS) });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).result).toEqual({ "200": 1 });
    expect(listed().map((s) => `${s.key} ${s.region}`)).toEqual(["AKIAPROFILEPKEY eu-west-3"]);
    // The HEAD that reads the object's Content-Encoding, and the worker's ranged GET.
    expect(signed.filter((s) => s.url.startsWith("/bkt/in/a.log")).map((s) => `${s.method} ${s.key} ${s.region}`)).toEqual(["HEAD AKIAPROFILEPKEY eu-west-3", "GET AKIAPROFILEPKEY eu-west-3"]);
  });
});
