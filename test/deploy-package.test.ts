// The deploy artifact, proven by packaging it offline: `serverless package` (osls) turns
// serverless.yml into the CloudFormation template that `fanout deploy` would ship.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";

type Resource = { Type: string; Properties: Record<string, any> };
let template: { Resources: Record<string, Resource>; Outputs: Record<string, unknown> };
let zipEntries: string[];
/** The worker role's statements when packaged with `fanout deploy --secrets /myapp`'s params. */
let secretStatements: any[];
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

  it("has a role that may touch only that bucket and its own logs, with no admin or wildcard grants", () => {
    const roles = byType("AWS::IAM::Role");
    expect(roles.map(([id]) => id)).toEqual(["WorkerRole"]);
    const [, role] = roles[0]!;
    expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
    // A conditional grant (--secrets) is checked as the statement it would be.
    const statements = role.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement).map((st: any) => (st["Fn::If"] ? st["Fn::If"][1] : st));
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
    expect(zipEntries.sort()).toEqual(["dist/lambda/index.mjs", "dist/lambda/index.mjs.map"]);
  });
});
