// The deploy artifact, proven by packaging it offline: `serverless package` (osls) turns
// serverless.yml into the CloudFormation template that `fanout deploy` would ship.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployParams } from "../dist/cli/commands/deploy.js";
import { fanout, ROOT } from "./helpers/cli.js";

type Resource = { Type: string; Properties: Record<string, any> };
let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
let withPolicy: typeof template;
let zipEntries: string[];
/** The worker role's statements when packaged with `fanout deploy --secrets /myapp`'s params. */
let secretStatements: any[];
const out = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-package-"));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

/** What a job that reads SSM parameters and one queue asks for, as a user would write it. */
const EXTRA_STATEMENTS = [
  { Effect: "Allow", Action: ["ssm:GetParameter", "ssm:GetParameters"], Resource: "arn:aws:ssm:eu-west-3:123456789012:parameter/fanout-job/*" },
  { Effect: "Allow", Action: "sqs:SendMessage", Resource: "arn:aws:sqs:eu-west-3:123456789012:results" },
];

/** `serverless package` with these params: the template `serverless deploy` would ship. */
function packageWith(dir: string, params: string[]): typeof template {
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules/osls/bin/serverless.js"), "package", "--stage", "pkgtest", "--package", dir, ...params], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", NPM_CONFIG_UPDATE_NOTIFIER: "false" },
  });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return JSON.parse(fs.readFileSync(path.join(dir, "cloudformation-template-update-stack.json"), "utf8"));
}

beforeAll(() => {
  template = packageWith(out, ["--param=memory=2048", "--param=expireDays=3"]);
  // The params `fanout deploy --worker-policy policy.json` passes, made by its own code.
  const policyFile = path.join(out, "policy.json");
  fs.writeFileSync(policyFile, JSON.stringify({ Version: "2012-10-17", Statement: EXTRA_STATEMENTS }));
  const out2 = path.join(out, "with-policy");
  withPolicy = packageWith(out2, deployParams({ stage: "pkgtest", workerPolicy: policyFile }, out));
  const unzip = spawnSync("python3", ["-c", "import zipfile,sys; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))", path.join(out, "fanout.zip")], { encoding: "utf8" });
  zipEntries = unzip.stdout.trim().split("\n");
  const withSecrets = path.join(out, "secrets");
  const r2 = spawnSync(
    process.execPath,
    [path.join(ROOT, "node_modules/osls/bin/serverless.js"), "package", "--stage", "pkgtest", "--package", withSecrets, "--param=secretsPrefix=/myapp", "--param=secretsName=myapp"],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", NPM_CONFIG_UPDATE_NOTIFIER: "false" } },
  );
  expect(r2.status, r2.stderr + r2.stdout).toBe(0);
  const t2 = JSON.parse(fs.readFileSync(path.join(withSecrets, "cloudformation-template-update-stack.json"), "utf8"));
  expect(t2.Conditions.HasSecrets).toEqual({ "Fn::Not": [{ "Fn::Equals": ["/myapp", ""] }] });
  secretStatements = t2.Resources.WorkerRole.Properties.Policies[0].PolicyDocument.Statement.filter((s: any) => s["Fn::If"]).map((s: any) => s["Fn::If"]);
}, 240_000);

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

  it("expires only runs/ (a bundle a run uses never expires under it) and aborts stale multipart uploads", () => {
    // CloudFormation's lifecycle Rule takes Prefix directly; it has no Filter
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-rule.html).
    const rules = template.Resources.RunsBucket!.Properties.LifecycleConfiguration.Rules;
    expect(rules).toHaveLength(1);
    expect(rules[0].Prefix).toBe("runs/");
    expect(rules[0].Filter).toBeUndefined();
    expect(rules[0].AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
  });

  it("denies every request to the bucket that is not over TLS", () => {
    // https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule/
    // (The Serverless deployment bucket has a policy of its own.)
    const policies = byType("AWS::S3::BucketPolicy").filter(([, p]) => JSON.stringify(p.Properties.Bucket) === '{"Ref":"RunsBucket"}');
    expect(policies.map(([id]) => id)).toEqual(["RunsBucketPolicy"]);
    const [, policy] = policies[0]!;
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: "AllowSSLRequestsOnly",
        Action: "s3:*",
        Effect: "Deny",
        Resource: [{ "Fn::GetAtt": ["RunsBucket", "Arn"] }, { "Fn::Sub": "${RunsBucket.Arn}/*" }],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
        Principal: "*",
      },
    ]);
  });

  it("lets the worker abort a multipart upload of a large result", () => {
    const statements = template.Resources.WorkerRole!.Properties.Policies.filter((p: any) => p.PolicyDocument).flatMap((p: any) => p.PolicyDocument.Statement);
    const objects = statements.find((st: any) => [].concat(st.Action).includes("s3:PutObject"));
    expect(objects.Action).toEqual(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]);
  });

  it("adds no statement beyond fanout's own unless --worker-policy gives some", () => {
    expect(byType("AWS::IAM::Policy")).toEqual([]);
  });

  it("with --worker-policy, attaches exactly the given statements to the worker role", () => {
    const extra = Object.entries(withPolicy.Resources).filter(([, r]) => r.Type === "AWS::IAM::Policy");
    expect(extra.map(([id]) => id)).toEqual(["WorkerExtraPolicy"]);
    const [, policy] = extra[0]!;
    expect(policy.Properties.Roles).toEqual([{ Ref: "WorkerRole" }]);
    expect(policy.Properties.PolicyName).toBe("fanout-worker-extra-pkgtest");
    expect(policy.Properties.PolicyDocument).toEqual({ Version: "2012-10-17", Statement: EXTRA_STATEMENTS });
    // fanout's own resources are unchanged beside it.
    expect(withPolicy.Resources.WorkerRole).toEqual(template.Resources.WorkerRole);
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
    // A conditional grant (--secrets) is checked as the statement it would be.
    const statements = role.Properties.Policies.filter((p: any) => p.PolicyDocument)
      .flatMap((p: any) => p.PolicyDocument.Statement)
      .map((st: any) => (st["Fn::If"] ? st["Fn::If"][1] : st));
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

  it("without --secrets the role may read no parameter or secret; with --secrets /myapp exactly that prefix", () => {
    const HasSecrets = template as unknown as { Conditions: { HasSecrets: unknown } };
    expect(HasSecrets.Conditions.HasSecrets).toEqual({ "Fn::Not": [{ "Fn::Equals": ["", ""] }] });
    // Each grant is present only under the condition, else AWS::NoValue.
    expect(secretStatements.map(([cond, , none]: any[]) => [cond, none])).toEqual([
      ["HasSecrets", { Ref: "AWS::NoValue" }],
      ["HasSecrets", { Ref: "AWS::NoValue" }],
    ]);
    const [ssm, sm] = secretStatements.map((s: any[]) => s[1]);
    expect(ssm.Action).toEqual(["ssm:GetParameter"]);
    expect(ssm.Resource).toEqual([
      { "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/myapp/*" },
      { "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/aws/reference/secretsmanager/myapp/*" },
    ]);
    expect(sm.Action).toEqual(["secretsmanager:GetSecretValue"]);
    expect(sm.Resource).toEqual({ "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:myapp/*" });
  });

  it("outputs the function name and bucket that `fanout run --backend aws` discovers", () => {
    expect(template.Outputs).toHaveProperty("WorkerFunctionName");
    expect(template.Outputs).toHaveProperty("RunsBucketName");
  });

  it("packages only the bundled worker: no CLI, no dev tools", () => {
    // The handler, and a detached run's driver beside it (imported by the handler only for a driver event).
    expect(zipEntries.sort()).toEqual(["dist/lambda/driver.mjs", "dist/lambda/driver.mjs.map", "dist/lambda/index.mjs", "dist/lambda/index.mjs.map"]);
  });

  it("lets the worker invoke only its own functions (a detached run's driver, every memory tier), and retries no async event", () => {
    const statements = template.Resources.WorkerRole!.Properties.Policies[0].PolicyDocument.Statement;
    const invoke = statements.filter((st: any) => [].concat(st.Action ?? []).some((a: string) => a.startsWith("lambda:")));
    expect(invoke).toEqual([
      {
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: { "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:fanout-pkgtest-worker*" },
      },
    ]);
    const configs = byType("AWS::Lambda::EventInvokeConfig");
    expect(configs.length).toBe(1);
    expect(configs[0]![1].Properties.MaximumRetryAttempts).toBe(0);
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

describe("deploy --memory 1024,3008,10240: one worker function per memory tier", () => {
  // Packaged after the others (two osls runs at once in one folder clash).
  let tiered: typeof template;
  const tiersOut = fs.mkdtempSync(path.join(os.tmpdir(), "fanout-tiers-"));
  afterAll(() => fs.rmSync(tiersOut, { recursive: true, force: true }));
  beforeAll(() => {
    tiered = packageWith(tiersOut, deployParams({ stage: "pkgtest", memory: "1024,3008,10240", tmp: "2048" }, tiersOut));
  }, 120_000);

  const functions = (t: typeof template) =>
    Object.entries(t.Resources)
      .filter(([, r]) => r.Type === "AWS::Lambda::Function")
      .map(([id, r]) => [id, r.Properties.FunctionName, r.Properties.MemorySize, r.Properties.Handler, JSON.stringify(r.Properties.Role)]);

  it("deploys worker at the first tier and worker<MB> for each other, same handler and role", () => {
    const role = JSON.stringify({ "Fn::GetAtt": ["WorkerRole", "Arn"] });
    expect(functions(tiered)).toEqual([
      ["WorkerLambdaFunction", "fanout-pkgtest-worker", 1024, "dist/lambda/index.handler", role],
      ["Worker3008LambdaFunction", "fanout-pkgtest-worker3008", 3008, "dist/lambda/index.handler", role],
      ["Worker10240LambdaFunction", "fanout-pkgtest-worker10240", 10240, "dist/lambda/index.handler", role],
    ]);
  });

  it("outputs WorkerTiers, each tier's memory and function, which `fanout run --memory` discovers", () => {
    const pair = (mb: number, id: string) => ({ "Fn::Join": ["=", [String(mb), { Ref: id }]] });
    expect((tiered.Outputs.WorkerTiers as { Value: unknown }).Value).toEqual({
      "Fn::Join": [",", [pair(1024, "WorkerLambdaFunction"), pair(3008, "Worker3008LambdaFunction"), pair(10240, "Worker10240LambdaFunction")]],
    });
  });

  it("every tier may write its own logs (the role's log grant covers worker*)", () => {
    const statements = tiered.Resources.WorkerRole!.Properties.Policies[0].PolicyDocument.Statement;
    const logs = statements.find((st: any) => [].concat(st.Action).includes("logs:PutLogEvents"));
    expect(logs.Resource["Fn::Sub"]).toMatch(/log-group:\/aws\/lambda\/fanout-\$\{sls:stage\}-worker\*:\*$|log-group:\/aws\/lambda\/fanout-pkgtest-worker\*:\*$/);
  });

  // /tmp holds the job's assets and native packages: `--tmp 2048` gives every tier 2048 MB of
  // ephemeral storage; Lambda's default is 512 MB ("Configuring ephemeral storage for Lambda functions").
  it("deploy --tmp 2048 gives every tier's /tmp 2048 MB; without it, Lambda's 512 MB", () => {
    const storage = (t: typeof template) => Object.values(t.Resources).filter((r) => r.Type === "AWS::Lambda::Function").map((r) => r.Properties.EphemeralStorage);
    expect(storage(tiered)).toEqual([{ Size: 2048 }, { Size: 2048 }, { Size: 2048 }]);
    expect(storage(template)).toEqual([{ Size: 512 }]);
  });

  it("a single --memory keeps one function, its one tier in WorkerTiers", () => {
    expect(functions(template).map(([id, , mb]) => [id, mb])).toEqual([["WorkerLambdaFunction", 2048]]);
    expect((template.Outputs.WorkerTiers as { Value: unknown }).Value).toEqual({ "Fn::Join": [",", [{ "Fn::Join": ["=", ["2048", { Ref: "WorkerLambdaFunction" }]] }]] });
  });

  it("refuses a tier Lambda cannot have, naming it, before anything is deployed", async () => {
    const res = await fanout(["deploy", "--memory", "1024,20000"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('fanout: --memory must be a whole number from 128 to 10240, got "20000" — e.g. --memory 128');
  });
});
