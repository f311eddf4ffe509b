// The bad-input catalogue: every row of docs/errors.md is run here through the real CLI.
// Each must exit with its code and print exactly one line on stderr (no stack), naming the
// problem and, after " — ", the fix. The observed lines are written to
// test-results/errors-observed.md, from which docs/errors.md is made.
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3rver, stopS3rver, type EmulatedS3 } from "../dist/src/compute/aws/s3rver.js";
import { fanout, ROOT } from "./helpers/cli.js";
import { startFakeSsm, type FakeSsm } from "./helpers/fake-ssm.js";
import { startLambdaProxy, type LambdaProxy } from "./helpers/lambda-proxy.js";
import { startS3DenyProxy } from "./helpers/s3-deny-proxy.js";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-catalogue-"));
const EMPTY_HOME = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-nohome-"));
/** No AWS credentials anywhere, and no instance-metadata lookups (never leave loopback). */
const NO_AWS: Record<string, string> = {
  HOME: EMPTY_HOME,
  AWS_ACCESS_KEY_ID: "",
  AWS_SECRET_ACCESS_KEY: "",
  AWS_SESSION_TOKEN: "",
  AWS_PROFILE: "",
  AWS_CONFIG_FILE: path.join(EMPTY_HOME, "none"),
  AWS_SHARED_CREDENTIALS_FILE: path.join(EMPTY_HOME, "none"),
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_REGION: "",
};
const FAKE_KEYS = { AWS_ACCESS_KEY_ID: "AKIAFANOUTTEST", AWS_SECRET_ACCESS_KEY: "secret", AWS_EC2_METADATA_DISABLED: "true" };

/** A loopback CloudFormation that has no fanout stack, and a Lambda that has no such function. */
let fakeAws: http.Server;
let fakeAwsUrl = "";
/** FANOUT_EMULATOR as `fanout emulate` printed it, for a stack that has since stopped. */
let staleEmulator = "";
/** A loopback SSM (the emulated stack has none): one parameter the worker may not read, the rest missing. */
let fakeSsm: FakeSsm;
const ssmEnv = () => ({ ...FAKE_KEYS, AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_SSM: fakeSsm.url });
beforeAll(async () => {
  fakeSsm = await startFakeSsm({}, ["/other-team/api-key"]);
});

/** An S3 endpoint holding one empty bucket, for s3:// inputs (AWS_ENDPOINT_URL_S3). */
let userS3: EmulatedS3 | undefined;
let deniedS3: Awaited<ReturnType<typeof startS3DenyProxy>> | undefined;
const S3_INPUT_ENV = () => ({ AWS_ENDPOINT_URL_S3: userS3!.endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" });
beforeAll(async () => {
  userS3 = await startS3rver(path.join(STORE, "user-s3"), "fanout-catalogue-in");
  // One object under locked/, which the deny proxy keeps the workers from reading.
  const s3 = new S3Client({ region: "us-east-1", endpoint: userS3.endpoint, forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
  await s3.send(new PutObjectCommand({ Bucket: "fanout-catalogue-in", Key: "locked/0.log", Body: "a line\n" }));
  // gz-plain/: 65 objects (more than fanout asks each Content-Encoding of), one gzip-encoded under a plain name.
  for (let i = 0; i < 65; i++) {
    const gz = i === 7;
    await s3.send(new PutObjectCommand({ Bucket: "fanout-catalogue-in", Key: `gz-plain/${String(i).padStart(2, "0")}.log`, Body: gz ? gzipSync("zipped\n") : `line ${i}\n`, ...(gz ? { ContentEncoding: "gzip" } : {}) }));
  }
  s3.destroy();
  deniedS3 = await startS3DenyProxy(userS3.endpoint, "fanout-catalogue-in");
  const gone = http.createServer();
  await new Promise<void>((r) => gone.listen(0, "127.0.0.1", r));
  const port = (gone.address() as AddressInfo).port;
  await new Promise((r) => gone.close(r));
  staleEmulator = JSON.stringify({ region: "us-east-1", s3Endpoint: `http://127.0.0.1:${port}`, lambdaEndpoint: `http://127.0.0.1:${port}`, bucket: "fanout-runs-dev", functionName: "fanout-dev-worker" });
  fakeAws = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      if (req.url?.includes("/functions/catalogue-fn/configuration")) {
        // GetFunctionConfiguration of a deployed function with a 60 s timeout and 1024 MB of /tmp.
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ FunctionName: "catalogue-fn", MemorySize: 1769, Timeout: 60, Architectures: ["arm64"], EphemeralStorage: { Size: 1024 } }));
      } else if (body.includes("Action=DescribeStacks") && body.includes("StackName=fanout-tiers")) {
        // A stack deployed with `fanout deploy --memory 1024,3008` (serverless-tiers.cjs's WorkerTiers output).
        const output = (k: string, v: string) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`;
        res.writeHead(200, { "content-type": "text/xml" });
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>fanout-tiers</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><Outputs>` +
            output("WorkerFunctionName", "catalogue-fn") +
            output("RunsBucketName", "fanout-catalogue-in") +
            output("WorkerTiers", "1024=catalogue-fn,3008=catalogue-fn3008") +
            `</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      } else if (body.includes("Action=DescribeStacks")) {
        res.writeHead(400, { "content-type": "text/xml" });
        res.end(
          `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id fanout-dev does not exist</Message></Error><RequestId>1</RequestId></ErrorResponse>`,
        );
      } else {
        res.writeHead(404, { "content-type": "application/json", "x-amzn-errortype": "ResourceNotFoundException" });
        res.end(JSON.stringify({ Type: "User", Message: "Function not found: arn:aws:lambda:us-east-1:000000000000:function:fanout-dev-worker" }));
      }
    });
  });
  await new Promise<void>((r) => fakeAws.listen(0, "127.0.0.1", r));
  fakeAwsUrl = `http://127.0.0.1:${(fakeAws.address() as AddressInfo).port}`;
  // Lambda as AWS answers an identity without lambda:InvokeFunction, and a function whose
  // code cannot load (test/helpers/lambda-proxy.ts cites the sources of each answer).
  deniedLambda = await startLambdaProxy(fakeAwsUrl, { deny: () => true });
  brokenLambda = await startLambdaProxy(fakeAwsUrl, { initError: { type: "Runtime.ImportModuleError" } });
}, 60_000);

let deniedLambda: LambdaProxy | undefined;
let brokenLambda: LambdaProxy | undefined;
/** The deployed function "catalogue-fn" (fakeAws) behind `lambda`, its run bucket on the catalogue's s3rver. */
const DEPLOYED = (lambda: () => string) => () => ({
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
  AWS_REGION: "us-east-1",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_ENDPOINT_URL_LAMBDA: lambda(),
  AWS_ENDPOINT_URL_S3: userS3!.endpoint,
});
const onAws = (...more: string[]) => run("examples/primes.ts", "--backend", "aws", "--region", "us-east-1", "--function", "catalogue-fn", "--bucket", "fanout-catalogue-in", "--chunks", "2", ...more);

const observed: string[] = [];
afterAll(async () => {
  fakeAws?.close();
  await deniedLambda?.close();
  await brokenLambda?.close();
  void fakeSsm?.close();
  deniedS3?.close();
  if (userS3) await stopS3rver(userS3);
  fs.mkdirSync(path.join(ROOT, "test-results"), { recursive: true });
  fs.writeFileSync(path.join(ROOT, "test-results", "errors-observed.md"), observed.join("\n") + "\n");
  fs.rmSync(STORE, { recursive: true, force: true });
  fs.rmSync(EMPTY_HOME, { recursive: true, force: true });
  fs.rmSync(EMPTY_STORE, { recursive: true, force: true });
});

interface Row {
  title: string;
  args: string[];
  /** Makes what the row needs (e.g. an earlier run) and returns the args to run instead. */
  setup?: () => Promise<string[]>;
  env?: () => Record<string, string>;
  exit: number;
  line: RegExp;
}

const run = (job: string, ...more: string[]) => ["run", job, "-q", "--store", STORE, ...more];
const BAD_RUN = "20260101T000000Z-aaaaaa";
const EMPTY_STORE = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-catalogue-empty-"));

/** A run of 4 chunks over range(0, 40) whose chunk 2 fails; then the job's input grows by one. */
async function failedRunThenInputChanged(): Promise<string[]> {
  const job = path.join(STORE, "grown.ts");
  const write = (end: number, bug: boolean) =>
    fs.writeFileSync(job, `import { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, ${end}), map: (c) => { ${bug ? "if (c.start === 20) throw new Error('bug');" : ""} return c.end - c.start; } });\n`);
  write(40, true);
  const first = await fanout(run(job, "--chunks", "4"));
  const runId = /--resume (\S+)/.exec(first.stderr)![1]!;
  write(41, false);
  return run(job, "--resume", runId, "--rebuild");
}

/** A detached run whose driver is still running (two chunks of 5 s): resuming it is a second driver. */
async function liveDetachedRun(): Promise<string[]> {
  const started = await fanout(run("test/fixtures/live-lines.ts", "--detach"));
  const runId = started.stdout.trim();
  return run("test/fixtures/live-lines.ts", "--resume", runId);
}

/** A run that finished (succeeded): `fanout cancel` of it has nothing to stop. */
async function finishedRun(): Promise<string[]> {
  const first = await fanout(run("examples/primes.ts", "--chunks", "2", "--json"));
  const runId = JSON.parse(first.stdout).summary.runId as string;
  return ["cancel", runId, "--store", STORE];
}

/** A job beside a 1100 MB asset (a sparse file: nothing is written or read), run on catalogue-fn with its 1024 MB of /tmp. */
async function assetsOverTmp(): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(STORE, "big-asset-"));
  fs.writeFileSync(path.join(dir, "big.ts"), `import { defineJob, range } from "fanout";\nexport default defineJob({ input: range(0, 2), assets: ["weights.bin"], map: (c) => c.end - c.start });\n`);
  fs.closeSync(fs.openSync(path.join(dir, "weights.bin"), "w"));
  fs.truncateSync(path.join(dir, "weights.bin"), 1100 * 1024 * 1024);
  return onAws("--timeout", "30").map((a) => (a === "examples/primes.ts" ? path.join(dir, "big.ts") : a));
}

/** A run that failed (chunk 2 of map-throws.ts throws): not finished, so not an input. */
async function failedRunAsInput(): Promise<string[]> {
  const first = await fanout(run("test/fixtures/map-throws.ts"));
  const runId = /--resume (\S+)/.exec(first.stderr)![1]!;
  return run("examples/primes.ts", "--input-run", runId);
}

/**
 * A project whose job imports a package that compiles its addon with node-gyp at install time
 * (a stand-in: its package.json and binding.gyp say so; its index.js needs no addon to load).
 */
async function projectWithGypAddon(): Promise<string[]> {
  const dir = path.join(STORE, "gyp-project");
  const pkg = path.join(dir, "node_modules", "gyp-addon");
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "gyp-addon", version: "1.0.0", gypfile: true, scripts: { install: "node-gyp rebuild" } }));
  fs.writeFileSync(path.join(pkg, "binding.gyp"), "{}");
  fs.writeFileSync(path.join(pkg, "index.js"), "module.exports = { twice: (n) => 2 * n };\n");
  fs.writeFileSync(path.join(dir, "job.ts"), 'import addon from "gyp-addon";\nimport { defineJob } from "fanout";\nexport default defineJob({ input: [1, 2], map: (c) => c.map(addon.twice) });\n');
  return run(path.join(dir, "job.ts"), "--backend", "aws", "--region", "us-east-1", "--function", "catalogue-fn", "--bucket", "fanout-catalogue-in", "--timeout", "30");
}

const rows: Row[] = [
  { title: "--input-run of a run that does not exist", args: run("examples/primes.ts", "--input-run", BAD_RUN), exit: 2, line: new RegExp(`^fanout: no run "${BAD_RUN}" in .* — list runs with \`fanout status\``) },
  { title: "--input-run of a run that did not finish", args: run("examples/primes.ts", "--input-run", "20261127T052008Z-crzkti"), setup: failedRunAsInput, exit: 2, line: /^fanout: run \S+ ended failed: its results are not final, so it cannot be an input — finish it first/ },
  { title: "--output folder with the aws backend", args: run("examples/primes.ts", "--backend", "aws", "--output", "./out"), exit: 2, line: /^fanout: --output \.\/out is a folder on this machine, which aws workers cannot reach — / },
  { title: "job file missing", args: run("nope.ts"), exit: 2, line: /job file not found: nope\.ts — check the path/ },
  { title: "job path is a folder", args: run("test/fixtures"), exit: 2, line: /job path is not a file: test\/fixtures/ },
  { title: "syntax error in the job", args: run("test/fixtures/syntax-error.ts"), exit: 2, line: /cannot bundle test\/fixtures\/syntax-error\.ts: test\/fixtures\/syntax-error\.ts:5:\d+: .* — fix the syntax error/ },
  { title: "type error the bundler reports (import of a name that is not exported)", args: run("test/fixtures/catalogue/missing-export.ts"), exit: 2, line: /cannot bundle .*missing-export\.ts:3:\d+: No matching export .* for import "square"/ },
  { title: "import of a package that is not installed", args: run("test/fixtures/missing-package.ts"), exit: 2, line: /Could not resolve "fanout-test-no-such-package-zz9" — install the package/ },
  { title: "no default export", args: run("test/fixtures/no-default.ts"), exit: 2, line: /has no default export — end the module with `export default defineJob/ },
  { title: "default export is not a job", args: run("test/fixtures/not-a-job.ts"), exit: 2, line: /default export of test\/fixtures\/not-a-job\.ts is not a job/ },
  { title: "the job module's top level throws", args: run("test/fixtures/top-level-throws.ts"), exit: 2, line: /loading .*top-level-throws\.ts threw: .* — fix the error in the job module's top-level code/ },
  { title: "--chunks 0", args: run("examples/primes.ts", "--chunks", "0"), exit: 2, line: /--chunks must be a positive integer, got "0" — e\.g\. --chunks 100/ },
  { title: "--chunks negative", args: run("examples/primes.ts", "--chunks", "-3"), exit: 2, line: /--chunks must be a positive integer, got "-3"/ },
  { title: "--chunks fractional", args: run("examples/primes.ts", "--chunks", "1.5"), exit: 2, line: /--chunks must be a positive integer, got "1\.5"/ },
  { title: "--chunks not a number", args: run("examples/primes.ts", "--chunks", "abc"), exit: 2, line: /--chunks must be a positive integer, got "abc"/ },
  { title: "--concurrency invalid", args: run("examples/primes.ts", "--concurrency", "0"), exit: 2, line: /--concurrency must be a positive integer, got "0"/ },
  { title: "--timeout invalid", args: run("examples/primes.ts", "--timeout", "-1"), exit: 2, line: /--timeout must be a positive number of seconds, got "-1"/ },
  { title: "unknown backend", args: run("examples/primes.ts", "--backend", "mars"), exit: 2, line: /unknown backend "mars" — use one of: local, aws, emulated/ },
  { title: "unknown flag", args: run("examples/primes.ts", "--frobnicate"), exit: 2, line: /unknown option '--frobnicate' — see `fanout run --help`/ },
  { title: "lines() on a missing file", args: run("test/fixtures/missing-lines.ts"), exit: 2, line: /lines\(\) input file not found: test\/fixtures\/no-such-input-file\.txt/ },
  { title: "map returns a function", args: run("test/fixtures/map-returns.ts"), env: () => ({ FANOUT_T_RETURN: "function" }), exit: 1, line: /chunk 0 failed: serialize: the map result\.fn is a function, which cannot be sent as JSON — return plain JSON data/ },
  { title: "map returns a symbol", args: run("test/fixtures/map-returns.ts"), env: () => ({ FANOUT_T_RETURN: "symbol" }), exit: 1, line: /the map result\.sym is a symbol/ },
  { title: "map returns a cycle", args: run("test/fixtures/map-returns.ts"), env: () => ({ FANOUT_T_RETURN: "cycle" }), exit: 1, line: /the map result\.self refers back to itself \(a cycle\)/ },
  { title: "map returns a BigInt", args: run("test/fixtures/map-returns.ts"), env: () => ({ FANOUT_T_RETURN: "bigint" }), exit: 1, line: /the map result\.big is a BigInt \(12345678901234567890n\), which JSON cannot carry; return it as a string/ },
  { title: "reduce throws", args: run("test/fixtures/reduce-throws.ts"), exit: 1, line: /reduce threw: reduce fixture refuses 4 counts — every chunk result is kept in the store \(`fanout status \S+ --store \S+`\); fix reduce and run again/ },
  { title: "asset missing (a named file that does not exist)", args: run("test/fixtures/catalogue/asset-missing.ts"), exit: 2, line: /^fanout: asset "model\.bin" not found: no file test\/fixtures\/catalogue\/model\.bin — put the file there, or fix assets: \[\.\.\.\] in defineJob/ },
  { title: "asset pattern that matches no files", args: run("test/fixtures/catalogue/asset-glob-empty.ts"), exit: 2, line: /^fanout: asset pattern "tables\/\*\.json" matches no files in test\/fixtures\/catalogue — put the file there/ },
  { title: "a chunk's payload cannot fit any worker", args: run("test/fixtures/catalogue/huge-payload.ts"), exit: 2, line: /chunk 0's payload is 51\.0 MB; a chunk can take at most 50 MB — put large data in a file and read it with lines\(\)/ },
  { title: "AWS credentials missing", args: run("examples/primes.ts", "--backend", "aws", "--region", "us-east-1"), env: () => NO_AWS, exit: 3, line: /no AWS credentials found — run `aws configure`/ },
  { title: "AWS region invalid", args: run("examples/primes.ts", "--backend", "aws", "--region", "mars-1"), env: () => FAKE_KEYS, exit: 2, line: /"mars-1" is not an AWS region — use a region code such as us-east-1/ },
  { title: "AWS region missing", args: run("examples/primes.ts", "--backend", "aws"), env: () => ({ ...FAKE_KEYS, AWS_REGION: "", AWS_DEFAULT_REGION: "", HOME: EMPTY_HOME }), exit: 3, line: /no AWS region is set — pass --region/ },
  {
    title: "stack (function and bucket) not deployed",
    args: run("examples/primes.ts", "--backend", "aws", "--region", "us-east-1"),
    env: () => ({ ...FAKE_KEYS, AWS_ENDPOINT_URL_CLOUDFORMATION: fakeAwsUrl }),
    exit: 3,
    line: /fanout is not deployed in us-east-1 \(no stack fanout-dev\) — run `npx fanout deploy --stage dev --region us-east-1` first/,
  },
  {
    title: "Lambda access denied (no lambda:InvokeFunction)",
    args: onAws("--timeout", "30"),
    env: DEPLOYED(() => deniedLambda!.url),
    exit: 3,
    line: /^fanout: AWS denied lambda:InvokeFunction on arn:aws:lambda:us-east-1:\d+:function:catalogue-fn — allow lambda:InvokeFunction on arn:aws:lambda:us-east-1:\d+:function:catalogue-fn in the IAM policy of the user or role that runs fanout$/,
  },
  {
    title: "the deployed worker cannot start (init error)",
    args: onAws("--timeout", "30"),
    env: DEPLOYED(() => brokenLambda!.url),
    exit: 3,
    line: /^fanout: the deployed worker function cannot start \(Runtime\.ImportModuleError: .*\) — redeploy it with `npx fanout deploy` \(same --stage and --region\)$/,
  },
  {
    title: "--timeout above the deployed function's timeout",
    args: onAws("--timeout", "120"),
    env: DEPLOYED(() => fakeAwsUrl),
    exit: 2,
    line: /^fanout: --timeout 120 is above the deployed function's timeout of 60 s — /,
  },
  {
    title: "--memory that no deployed memory tier has",
    args: run("examples/primes.ts", "--backend", "aws", "--region", "us-east-1", "--stage", "tiers", "--chunks", "2", "--timeout", "30", "--memory", "2048"),
    env: () => ({ ...DEPLOYED(() => fakeAwsUrl)(), AWS_ENDPOINT_URL_CLOUDFORMATION: fakeAwsUrl }),
    exit: 2,
    line: /^fanout: --memory 2048 is not a deployed memory tier \(the stack has 1024, 3008 MB\) — pass --memory 1024 or 3008, or deploy that tier with `fanout deploy --memory 1024,3008,2048`$/,
  },
  { title: "bench --sample without a memory sweep", args: ["bench", "examples/primes.ts", "--sample", "5", "--store", STORE], exit: 2, line: /^fanout: --sample applies to a memory sweep only — list the tiers to compare, e\.g\. --memory 1024,1769,3008 --sample 20$/ },
  { title: "--memory list with a tier that is not a number", args: run("examples/primes.ts", "--memory", "1024,lots"), exit: 2, line: /^fanout: --memory must be a positive integer, got "lots" — e\.g\. --memory 1024$/ },
  {
    title: "function not deployed (bucket and function named)",
    args: run("examples/primes.ts", "--backend", "aws", "--region", "us-east-1", "--function", "fanout-dev-worker", "--bucket", "b"),
    env: () => ({ ...FAKE_KEYS, AWS_ENDPOINT_URL_LAMBDA: fakeAwsUrl }),
    exit: 3,
    line: /Lambda function fanout-dev-worker is not deployed in us-east-1 — run `npx fanout deploy`/,
  },
  {
    title: "FANOUT_EMULATOR names a stack that is not running",
    args: run("examples/primes.ts", "--backend", "emulated"),
    env: () => ({ FANOUT_EMULATOR: staleEmulator }),
    exit: 3,
    line: /^fanout: the emulated stack named by FANOUT_EMULATOR is not running — start `fanout emulate` or unset FANOUT_EMULATOR$/,
  },
  { title: "--resume with a run id that does not exist", args: run("examples/primes.ts", "--resume", BAD_RUN), exit: 2, line: new RegExp(`no run "${BAD_RUN}" in .* — list runs with \`fanout status\``) },
  {
    title: "resume with changed input",
    args: ["run", "job.ts", "--resume", "20261127T052008Z-crzkti", "--rebuild"],
    setup: failedRunThenInputChanged,
    exit: 2,
    line: /cannot resume run \S+ with the new build: its chunks' inputs changed — results of different inputs cannot be mixed; start a new run without --resume/,
  },
  { title: "--rebuild without --resume", args: run("examples/primes.ts", "--rebuild"), exit: 2, line: /--rebuild only applies with --resume <runId> — add --resume <runId> to finish that run with the new build, or drop --rebuild/ },
  { title: "--env malformed", args: run("examples/primes.ts", "--env", "API_URL"), exit: 2, line: /^fanout: --env must be NAME=value with NAME made of letters, digits and _, got "API_URL" — e\.g\. --env API_URL=https:\/\/api\.example\.com$/ },
  { title: "--secret malformed", args: run("examples/primes.ts", "--secret", "API_KEY=/myapp/api-key"), exit: 2, line: /^fanout: --secret must be NAME=ssm:\/parameter\/path or NAME=secretsmanager:<name or ARN>, got "API_KEY=\/myapp\/api-key" — e\.g\. --secret API_KEY=ssm:\/myapp\/api-key$/ },
  {
    title: "secret not found (looked up before any chunk runs)",
    args: run("examples/primes.ts", "--chunks", "2", "--secret", "API_KEY=ssm:/myapp/api-key"),
    env: ssmEnv,
    exit: 2,
    line: /^fanout: secret API_KEY \(ssm:\/myapp\/api-key\) does not exist: no parameter \/myapp\/api-key — create it \(`aws ssm put-parameter --name \/myapp\/api-key --type SecureString --value \.\.\.`\) or fix --secret API_KEY=\.\.\.$/,
  },
  {
    title: "--secret on an emulated stack started without an SSM server",
    args: run("examples/primes.ts", "--backend", "emulated", "--secret", "API_KEY=ssm:/myapp/api-key"),
    env: () => ({ FANOUT_EMULATOR: staleEmulator }),
    exit: 3,
    line: /^fanout: --secret on the emulated stack needs an SSM server to read from, and the stack in FANOUT_EMULATOR was started without one — set AWS_ENDPOINT_URL_SSM to a loopback SSM/,
  },
  {
    title: "assets larger than the worker's /tmp",
    args: onAws("--timeout", "30").map((a) => (a === "examples/primes.ts" ? "big.ts" : a)),
    setup: assetsOverTmp,
    env: DEPLOYED(() => fakeAwsUrl),
    exit: 2,
    line: /^fanout: the job's assets total 1100\.0 MB, more than the 1024 MB of \/tmp a worker has \(biggest asset: weights\.bin, 1100\.0 MB\) — ship less, or give the workers more \/tmp: `fanout deploy --tmp <MB>` \(up to 10240\)$/,
  },
  {
    title: "a remote job reads a file beside it that it does not ship",
    args: onAws("--timeout", "30").map((a) => (a === "examples/primes.ts" ? "test/fixtures/files/reads-data.ts" : a)),
    env: DEPLOYED(() => fakeAwsUrl),
    exit: 2,
    line: /^fanout: test\/fixtures\/files\/reads-data\.ts: reads \.\/data\.csv from disk, which the workers will not have — ship it with assets: \["data\.csv"\] and open it with ctx\.asset\("data\.csv"\)$/,
  },
  {
    title: "secret not granted to the workers",
    args: run("examples/primes.ts", "--chunks", "2", "--secret", "API_KEY=ssm:/other-team/api-key"),
    env: ssmEnv,
    exit: 1,
    line: /chunk 0 failed: SecretError: secret API_KEY \(ssm:\/other-team\/api-key\): the worker's role may not read \/other-team\/api-key \(2 chunks failed; this is the first\) — grant the workers' role its path with `fanout deploy --secrets <prefix>`/,
  },
  { title: "status of a run id that does not exist", args: ["status", BAD_RUN, "--store", STORE], exit: 2, line: new RegExp(`no run "${BAD_RUN}"`) },
  { title: "logs of a run id that does not exist", args: ["logs", BAD_RUN, "--store", STORE], exit: 2, line: new RegExp(`no run "${BAD_RUN}"`) },
  { title: "logs with no runs in the store", args: ["logs", "--store", EMPTY_STORE], exit: 2, line: /no runs in .* — start one with `fanout run <job>`, or point --store\/--backend at where your runs are/ },
  { title: "deploy with memory Lambda cannot have", args: ["deploy", "--memory", "64"], exit: 2, line: /--memory must be a whole number from 128 to 10240, got "64"/ },
  { title: "deploy with a /tmp Lambda cannot have", args: ["deploy", "--tmp", "100"], exit: 2, line: /^fanout: --tmp must be a whole number from 512 to 10240, got "100" — e\.g\. --tmp 512$/ },
  {
    title: "deploy with a worker policy file that does not exist",
    args: ["deploy", "--worker-policy", "no-such-policy.json"],
    exit: 2,
    line: /^fanout: cannot read the worker policy file no-such-policy\.json — pass a JSON file of IAM statements/,
  },
  {
    title: "deploy with a worker policy statement missing its Resource",
    args: ["deploy", "--worker-policy", "test/fixtures/catalogue/worker-policy-no-resource.json"],
    exit: 2,
    line: /worker-policy-no-resource\.json has a statement \(#1\) without Effect, Action and Resource — each statement needs all three/,
  },
  { title: "deploy with a secrets prefix that is not a path", args: ["deploy", "--secrets", "myapp/*"], exit: 2, line: /^fanout: --secrets must be a parameter path prefix such as \/myapp, got "myapp\/\*" — e\.g\. --secrets \/myapp/ },
  { title: "deploy with an unknown architecture", args: ["deploy", "--arch", "mips"], exit: 2, line: /option '--arch <arch>' argument 'mips' is invalid/ },
  { title: "a malformed run id", args: ["logs", "yesterday", "--store", STORE], exit: 2, line: /"yesterday" is not a run id — run ids look like/ },
  { title: "attach to an unknown run", args: ["attach", BAD_RUN, "-q", "--store", STORE], exit: 2, line: new RegExp(`no run "${BAD_RUN}" in .* — list runs with \`fanout status\``) },
  {
    title: "a second driver refused",
    args: ["run", "job.ts", "--resume", "20261127T052008Z-crzkti"],
    setup: liveDetachedRun,
    exit: 2,
    line: /^fanout: run \S+ already has a driver \(pid \d+ on .+, lease generation 1\) — follow it with `fanout attach \S+ --store \S+`, or wait until it stops$/,
  },
  {
    title: "--detach on the emulated backend without a running stack",
    args: run("examples/primes.ts", "--backend", "emulated", "--detach"),
    env: () => ({ FANOUT_EMULATOR: "" }),
    exit: 2,
    line: /^fanout: a detached run on the emulated backend needs a running stack — start `fanout emulate` and export the FANOUT_EMULATOR line it prints: a stack started for one command stops with it$/,
  },
  { title: "--detach with --resume", args: run("examples/primes.ts", "--detach", "--resume", BAD_RUN), exit: 2, line: /^fanout: --detach starts a new run — to go on with run \S+ in the background, `fanout attach \S+` restarts its driver if it is gone$/ },
  { title: "--max-failures invalid", args: run("examples/primes.ts", "--max-failures", "some"), exit: 2, line: /^fanout: --max-failures must be a number of chunks or a percentage, got "some" — e\.g\. --max-failures 5 or --max-failures 1%$/ },
  {
    title: "more chunks failed than --max-failures allows",
    args: run("test/fixtures/partial.ts", "--chunks", "10", "--max-failures", "1"),
    env: () => ({ FANOUT_FAIL_CHUNKS: "2,5" }),
    exit: 1,
    line: /^fanout: more chunks failed than --max-failures 1 allows; chunk 2 failed: Error: chunk 2 fails on purpose .*\(2 chunks failed; this is the first\) — see `fanout logs \S+ 2 --store \S+` \(stack with --verbose\); fix the job, then run the rest, keeping other results: fanout run test\/fixtures\/partial\.ts --resume \S+ --rebuild --store \S+$/,
  },
  { title: "cancel of a finished run", args: ["cancel", "20261127T052008Z-crzkti"], setup: finishedRun, exit: 2, line: /^fanout: run \S+ already finished \(succeeded\): there is nothing to cancel — `fanout status \S+ --store \S+` shows how it ended$/ },
  {
    title: "an S3 input the workers may not read",
    args: run("test/fixtures/catalogue/s3-denied.ts"),
    env: () => ({ ...S3_INPUT_ENV(), AWS_ENDPOINT_URL_S3: deniedS3!.url }),
    exit: 3,
    line: /^fanout: chunk \d+: access denied reading s3:\/\/fanout-catalogue-in\/locked\/0\.log — grant the workers read access: fanout deploy --read s3:\/\/fanout-catalogue-in\/locked\/$/,
  },
  {
    title: "lines() over a large S3 prefix with a gzip-encoded object under a plain name",
    args: run("test/fixtures/catalogue/s3-gzip-plain.ts"),
    env: S3_INPUT_ENV,
    exit: 3,
    line: /^fanout: chunk \d+: s3:\/\/fanout-catalogue-in\/gz-plain\/07\.log holds gzip data but was planned as plain text \(gzip is known by a \.gz name, or on S3 by Content-Encoding when a listing has at most 64 objects\), so its byte ranges cannot be split into lines — give it a name ending in \.gz: such objects are read whole, one chunk each$/,
  },
  { title: "lines() over an S3 bucket that does not exist", args: run("test/fixtures/catalogue/s3-missing-bucket.ts"), env: S3_INPUT_ENV, exit: 2, line: /input bucket "no-such-bucket-zz9" does not exist \(s3:\/\/no-such-bucket-zz9\/logs\/\)/ },
  { title: "objects() over an empty S3 prefix", args: run("test/fixtures/catalogue/s3-empty-prefix.ts"), env: S3_INPUT_ENV, exit: 2, line: /objects\("s3:\/\/fanout-catalogue-in\/nothing-here\/"\) found no objects in bucket fanout-catalogue-in/ },
  { title: "deploy --read with a wildcard", args: ["deploy", "--read", "s3://in-bucket/logs/*"], exit: 2, line: /--read "s3:\/\/in-bucket\/logs\/\*" is not an s3:\/\/bucket\/prefix URL/ },
  {
    // Lambda's 250 MB limit lowered by its test setting, so the crc32 archive for arm64 (the deployed function's) is over it.
    title: "native packages too big for Lambda",
    args: run("examples/crc32.ts", "--backend", "aws", "--region", "us-east-1", "--function", "catalogue-fn", "--bucket", "fanout-catalogue-in", "--timeout", "30"),
    env: () => ({ ...DEPLOYED(() => fakeAwsUrl)(), FANOUT_TEST_UNZIPPED_LIMIT_BYTES: "262144" }),
    exit: 2,
    line: /^fanout: the job's external packages for linux-arm64 unpack to 0\.\d MB, over Lambda's 0\.3 MB limit for unzipped code \(largest: @node-rs\/crc32-linux-arm64-gnu 0\.\d MB, @node-rs\/crc32 0\.0 MB\) — run the job from a container image/,
  },
  {
    title: "a native package that builds its addon at install time, for Lambda",
    args: run("gyp-project/job.ts", "--backend", "aws", "--region", "us-east-1", "--function", "catalogue-fn", "--bucket", "fanout-catalogue-in", "--timeout", "30"),
    setup: projectWithGypAddon,
    env: DEPLOYED(() => fakeAwsUrl),
    exit: 2,
    line: /^fanout: gyp-addon builds its compiled addon in an install script \(node-gyp\), which fanout does not run when installing for linux-arm64 — use a package that ships prebuilt binaries/,
  },
  { title: "gc with an age that is not a duration", args: ["gc", "--older-than", "7x", "--store", STORE], exit: 2, line: /^fanout: --older-than must be a duration like 30m, 12h or 7d, got "7x" — e\.g\. --older-than 7d$/ },
];

/** A docs/errors.md row's documented stderr line: its last column, backticks off, "\\|" unescaped. */
function documentedLine(doc: string, title: string): string | undefined {
  const row = doc.split("\n").find((l) => l.startsWith(`| ${title} |`));
  return row?.match(/\| \d+ \| `(.*)` \|$/)?.[1]?.replaceAll("\\|", "|");
}

/** The fix after the last " — ", with this machine's paths and run ids written as the docs write them. */
function hintOf(line: string): string | undefined {
  const at = line.lastIndexOf(" — ");
  if (at < 0) return undefined;
  return line
    .slice(at + 3)
    // The rows run with a store of their own standing in for the default one, which a hint
    // does not name: a user with the default store sees the command without --store.
    .replaceAll(` --store ${STORE}`, "")
    .replaceAll(STORE, "/your/project/.fanout")
    .replaceAll(ROOT.replace(/\/$/, ""), "/your/project")
    .replace(/\d{8}T\d{6}Z-[a-z0-9]{6}/g, "<run id>");
}

describe("bad-input catalogue (docs/errors.md)", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs", "errors.md"), "utf8");

  it("has at least 20 rows, each documented with its exit code", () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const r of rows) {
      const docRow = doc.split("\n").find((l) => l.startsWith(`| ${r.title} |`));
      expect(docRow, `docs/errors.md row for "${r.title}"`).toBeDefined();
      expect(docRow).toContain(`| ${r.exit} |`);
    }
    const docTitles = doc.split("\n").filter((l) => /^\| .+ \| `/.test(l)).map((l) => l.slice(2, l.indexOf(" | ")));
    expect(docTitles.filter((t) => !rows.some((r) => r.title === t)), "docs/errors.md rows this test does not run").toEqual([]);
  });

  for (const row of rows) {
    it(row.title, async () => {
      const args = row.setup ? await row.setup() : row.args;
      const res = await fanout(args, { env: row.env?.() ?? {}, timeoutMs: 60_000 });
      const lines = res.stderr.split("\n").filter(Boolean);
      observed.push(`| ${row.title} | \`fanout ${row.args.filter((a) => a !== "-q" && a !== "--store" && a !== STORE).join(" ")}\` | ${res.code} | \`${(lines[0] ?? "").replaceAll("|", "\\|")}\` |`);
      expect(res.code).toBe(row.exit);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^fanout: /);
      expect(lines[0]).toMatch(row.line);
      const documented = hintOf(documentedLine(doc, row.title) ?? "");
      expect(documented, `docs/errors.md gives "${row.title}" a fix after " — "`).toBeDefined();
      expect(hintOf(lines[0]), "the fix printed is the one docs/errors.md documents").toBe(documented);
      expect(res.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("--verbose adds the stack, and only then", async () => {
    const res = await fanout(run("test/fixtures/map-throws.ts", "--verbose"));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/\n\s+at /);
  });
});
