// The deploy artifact, proven by packaging it offline: `serverless package` (osls) turns
// serverless.yml into the CloudFormation template that `fanout deploy` would ship.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fanout, ROOT } from "./helpers/cli.js";

type Resource = { Type: string; Properties: Record<string, any> };
let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
let zipEntries: string[];
const out = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-package-"));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

beforeAll(() => {
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, "node_modules/osls/bin/serverless.js"), "package", "--stage", "pkgtest", "--package", out, "--param=memory=2048", "--param=expireDays=3"],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", NPM_CONFIG_UPDATE_NOTIFIER: "false" } },
  );
  expect(r.status, r.stderr + r.stdout).toBe(0);
  template = JSON.parse(fs.readFileSync(path.join(out, "cloudformation-template-update-stack.json"), "utf8"));
  const unzip = spawnSync("python3", ["-c", "import zipfile,sys; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", path.join(out, "fanout.zip")], { encoding: "utf8" });
  zipEntries = unzip.stdout.trim().split("\n");
}, 120_000);

const byType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

describe("serverless package: the CloudFormation template", () => {
  it("has the worker function on a current Node runtime with the given memory", () => {
    const fns = byType("AWS::Lambda::Function");
    expect(fns).toHaveLength(1);
    const [, fn] = fns[0]!;
    expect(fn.Properties.FunctionName).toBe("fanout-pkgtest-worker");
    expect(fn.Properties.Runtime).toMatch(/^nodejs(22|24)\.x$/);
    expect(fn.Properties.MemorySize).toBe(2048);
    expect(fn.Properties.Handler).toBe("dist/lambda/index.handler");
    expect(fn.Properties.Role).toEqual({ "Fn::GetAtt": ["WorkerRole", "Arn"] });
  });

  it("has a private, encrypted run bucket whose data expires", () => {
    const bucket = template.Resources.RunsBucket!;
    expect(bucket.Type).toBe("AWS::S3::Bucket");
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe("AES256");
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const rule = bucket.Properties.LifecycleConfiguration.Rules[0];
    expect(rule.Status).toBe("Enabled");
    // CloudFormation takes integers as numbers or numeric strings alike.
    expect(Number(rule.ExpirationInDays)).toBe(3);
  });

  it("has a role that may touch only that bucket and its own logs, with no admin or wildcard grants", () => {
    const roles = byType("AWS::IAM::Role");
    expect(roles.map(([id]) => id)).toEqual(["WorkerRole"]);
    const [, role] = roles[0]!;
    expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
    // Without --read/--write the data policy is switched off (see test/deploy-grants.test.ts).
    const [dataPolicy] = role.Properties.Policies.filter((p: any) => p["Fn::If"]);
    expect(dataPolicy["Fn::If"][0]).toBe("HasDataGrants");
    expect((template as any).Conditions.HasDataGrants).toEqual({ "Fn::Not": [{ "Fn::Equals": ["", ""] }] });
    const statements = role.Properties.Policies.filter((p: any) => p.PolicyDocument).flatMap((p: any) => p.PolicyDocument.Statement);
    for (const st of statements) {
      expect(st.Effect).toBe("Allow");
      const actions: string[] = [].concat(st.Action);
      for (const a of actions) expect(a).not.toMatch(/\*/);
      const resources = [].concat(st.Resource).map((r) => JSON.stringify(r));
      for (const r of resources) expect(r).not.toBe('"*"');
    }
    const s3 = statements.filter((st: any) => [].concat(st.Action).some((a: string) => a.startsWith("s3:")));
    expect(s3.length).toBeGreaterThan(0);
    for (const st of s3) expect(JSON.stringify(st.Resource)).toMatch(/RunsBucket/);
    const logs = statements.filter((st: any) => [].concat(st.Action).some((a: string) => a.startsWith("logs:")));
    for (const st of logs) expect(JSON.stringify(st.Resource)).toMatch(/log-group:\/aws\/lambda\/fanout-\$\{sls:stage\}-worker|fanout-pkgtest-worker/);
  });

  it("outputs the function name and bucket that `fanout run --backend aws` discovers", () => {
    expect(template.Outputs).toHaveProperty("WorkerFunctionName");
    expect(template.Outputs).toHaveProperty("RunsBucketName");
  });

  it("packages only the bundled worker: no CLI, no dev tools", () => {
    expect(zipEntries.sort()).toEqual(["dist/lambda/index.mjs", "dist/lambda/index.mjs.map"]);
  });
});

const arn = (rest: string) => ({ "Fn::Sub": `arn:\${AWS::Partition}:s3:::${rest}` });

describe("deploy --read/--write: statements scoped to exactly those prefixes", () => {
  // Packaged after the plain template (same file: two osls runs at once in one folder clash).
  let template: any;
  const grantsOut = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-grants-"));
  afterAll(() => fs.rmSync(grantsOut, { recursive: true, force: true }));
  beforeAll(() => {
    // The params `fanout deploy --read s3://in-bucket/logs/2024/ --read s3://whole-in --write s3://out-bucket/results/` passes.
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, "node_modules/osls/bin/serverless.js"), "package", "--stage", "grants", "--package", grantsOut, "--param=read=s3://in-bucket/logs/2024/,s3://whole-in", "--param=write=s3://out-bucket/results/"],
      { cwd: ROOT, encoding: "utf8", env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", NPM_CONFIG_UPDATE_NOTIFIER: "false" } },
    );
    expect(r.status, r.stderr + r.stdout).toBe(0);
    template = JSON.parse(fs.readFileSync(path.join(grantsOut, "cloudformation-template-update-stack.json"), "utf8"));
  }, 120_000);

  it("adds a data policy, switched on, with GetObject/ListBucket per read prefix and PutObject per write prefix", () => {
    const policies = template.Resources.WorkerRole.Properties.Policies;
    const [cond, policy, otherwise] = policies.find((p: any) => p["Fn::If"])["Fn::If"];
    expect(cond).toBe("HasDataGrants");
    expect(otherwise).toEqual({ Ref: "AWS::NoValue" });
    expect(template.Conditions.HasDataGrants["Fn::Not"][0]["Fn::Equals"][0]).not.toBe("");
    expect(policy.PolicyName).toBe("fanout-data-grants");
    expect(policy.PolicyDocument.Statement).toEqual([
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: arn("in-bucket/logs/2024/*") },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: arn("in-bucket"), Condition: { StringLike: { "s3:prefix": ["logs/2024/*"] } } },
      { Effect: "Allow", Action: ["s3:GetObject"], Resource: arn("whole-in/*") },
      { Effect: "Allow", Action: ["s3:ListBucket"], Resource: arn("whole-in") },
      { Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: arn("out-bucket/results/*") },
    ]);
  });

  it("never grants s3:* or a bare *", () => {
    const all = JSON.stringify(template.Resources.WorkerRole);
    expect(all).not.toMatch(/"s3:\*"|"\*"/);
  });

  it("refuses a grant that is not a literal s3://bucket/prefix, before anything is deployed", async () => {
    const res = await fanout(["deploy", "--read", "s3://in-bucket/logs/*"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('fanout: --read "s3://in-bucket/logs/*" is not an s3://bucket/prefix URL — e.g. --read s3://my-bucket/logs/2024/ (a literal prefix: no *, ? or commas)');
  });
});
