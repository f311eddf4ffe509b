/**
 * A run's `--secret`s checked before any chunk runs: on an emulated stack, that it has an SSM
 * server to read them from; everywhere, that SSM does not report one missing (looked up with
 * the caller's credentials, see src/compute/aws/secrets.ts). The SDK loads only for a run
 * with secrets.
 */
import { ConfigError, UsageError } from "../errors.js";
import type { Backend } from "../compute/types.js";
import type { AwsTarget } from "../compute/aws/target.js";
import { emulatorFromEnv } from "../compute/aws/env.js";
import type { BackendName } from "../options.js";

/**
 * Before anything is opened: an emulated stack reads secrets only from the SSM server it was
 * started with (the one in FANOUT_EMULATOR, or AWS_ENDPOINT_URL_SSM for a stack this run starts).
 */
export function checkSecretsServed(backend: BackendName, secrets: Record<string, string> | undefined, env = process.env): void {
  if (backend !== "emulated" || !secrets) return;
  const running = emulatorFromEnv(env);
  if (running ? running.ssmEndpoint : env.AWS_ENDPOINT_URL_SSM) return;
  throw new ConfigError(
    `--secret on the emulated stack needs an SSM server to read from, and ${running ? "the stack in FANOUT_EMULATOR was started without one" : "AWS_ENDPOINT_URL_SSM is not set"}`,
    "set AWS_ENDPOINT_URL_SSM to a loopback SSM (e.g. LocalStack) before the stack starts (`fanout emulate`, or this run), or run --secret on aws or local",
  );
}

/** Stop before dispatch when SSM says a secret does not exist; say nothing when it cannot tell. */
export async function checkSecretsExist(secrets: Record<string, string> | undefined, compute: Backend): Promise<void> {
  if (!secrets) return;
  const { findMissingSecret } = await import("../compute/aws/secrets.js");
  const target = (compute as { target?: AwsTarget }).target;
  const missing = await findMissingSecret(secrets, compute.name === "local" ? undefined : target);
  if (!missing) return;
  const where = target ? ` in ${target.region}` : "";
  const create =
    missing.ref.startsWith("ssm:")
      ? `create it${where} (\`aws ssm put-parameter --name ${missing.parameter} --type SecureString --value ...\`)`
      : `create it${where} (\`aws secretsmanager create-secret --name ${missing.ref.slice("secretsmanager:".length)} --secret-string ...\`)`;
  throw new UsageError(`secret ${missing.name} (${missing.ref}) does not exist: no parameter ${missing.parameter}${where}`, `${create} or fix --secret ${missing.name}=...`);
}
