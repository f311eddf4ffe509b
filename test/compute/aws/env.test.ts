import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { emulatorFromEnv, runningEmulatorFromEnv } from "../../../dist/src/compute/aws/env.js";
import { ConfigError } from "../../../dist/src/errors.js";

const BAD_JSON = "FANOUT_EMULATOR is set but is not the JSON that `fanout emulate` prints";

describe("emulatorFromEnv (FANOUT_EMULATOR parsing)", () => {
  it("is undefined when the variable is unset or empty", () => {
    expect(emulatorFromEnv({})).toBeUndefined();
    expect(emulatorFromEnv({ FANOUT_EMULATOR: "" })).toBeUndefined();
  });

  it("fills region and s3rver's credentials when `fanout emulate`'s JSON leaves them out", () => {
    const value = JSON.stringify({ s3Endpoint: "http://127.0.0.1:4569", lambdaEndpoint: "http://127.0.0.1:3002", bucket: "fanout-runs-dev", functionName: "fanout-dev-worker" });
    expect(emulatorFromEnv({ FANOUT_EMULATOR: value })).toEqual({
      region: "us-east-1",
      s3Endpoint: "http://127.0.0.1:4569",
      lambdaEndpoint: "http://127.0.0.1:3002",
      bucket: "fanout-runs-dev",
      functionName: "fanout-dev-worker",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    });
  });

  it("keeps the region and credentials it is given", () => {
    const value = JSON.stringify({ region: "eu-west-1", s3Endpoint: "s", lambdaEndpoint: "l", bucket: "b", functionName: "f", accessKeyId: "K", secretAccessKey: "S" });
    expect(emulatorFromEnv({ FANOUT_EMULATOR: value })).toEqual({ region: "eu-west-1", s3Endpoint: "s", lambdaEndpoint: "l", bucket: "b", functionName: "f", accessKeyId: "K", secretAccessKey: "S" });
  });

  it.each([
    ["not JSON", "s3Endpoint=http://127.0.0.1:4569"],
    ["a field missing", JSON.stringify({ s3Endpoint: "s", lambdaEndpoint: "l", bucket: "b" })],
    ["a field empty", JSON.stringify({ s3Endpoint: "", lambdaEndpoint: "l", bucket: "b", functionName: "f" })],
    ["JSON null", "null"],
  ])("rejects %s with a ConfigError naming the fix", (_, value) => {
    let err: unknown;
    try {
      emulatorFromEnv({ FANOUT_EMULATOR: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(BAD_JSON);
    expect((err as ConfigError).hint).toBe("copy the export line from `fanout emulate`, or unset FANOUT_EMULATOR");
  });
});

describe("runningEmulatorFromEnv (the stale-stack check)", () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  /** A loopback listener standing in for one of the stack's servers. */
  const listen = () =>
    new Promise<number>((resolve) => {
      const s = net.createServer((c) => c.destroy());
      servers.push(s);
      s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port));
    });
  /** A loopback port with nothing listening on it. */
  const closedPort = async () => {
    const s = net.createServer();
    const port = await new Promise<number>((r) => s.listen(0, "127.0.0.1", () => r((s.address() as net.AddressInfo).port)));
    await new Promise((r) => s.close(r));
    return port;
  };
  const env = (s3: number, lambda: number) => ({
    FANOUT_EMULATOR: JSON.stringify({ s3Endpoint: `http://127.0.0.1:${s3}`, lambdaEndpoint: `http://127.0.0.1:${lambda}`, bucket: "b", functionName: "f" }),
  });

  it("is undefined when FANOUT_EMULATOR is unset", async () => {
    await expect(runningEmulatorFromEnv({})).resolves.toBeUndefined();
  });

  it("returns the endpoints when both servers accept connections", async () => {
    const [s3, lambda] = [await listen(), await listen()];
    const e = await runningEmulatorFromEnv(env(s3, lambda));
    expect(e?.s3Endpoint).toBe(`http://127.0.0.1:${s3}`);
    expect(e?.lambdaEndpoint).toBe(`http://127.0.0.1:${lambda}`);
  });

  it("explains a variable left over from a stopped `fanout emulate`", async () => {
    const [s3, gone] = [await listen(), await closedPort()];
    const err = await runningEmulatorFromEnv(env(s3, gone)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe("the emulated stack named by FANOUT_EMULATOR is not running");
    expect((err as ConfigError).hint).toBe("start `fanout emulate` or unset FANOUT_EMULATOR");
  });
});
