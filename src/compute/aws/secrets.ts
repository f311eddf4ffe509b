/**
 * A run's secrets looked up before any chunk runs, with the caller's own credentials: one
 * GetParameter each (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html).
 * Only a clear ParameterNotFound counts: a caller who may not read the secret (AccessDenied),
 * has no credentials, or cannot reach SSM says nothing about the workers, whose role may differ.
 */
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { parseSecretRef, ssmParameterName } from "../../secret-ref.js";
import type { AwsTarget } from "./target.js";

/** How long one lookup may take before the check gives up on it (the workers will see). */
const LOOKUP_TIMEOUT_MS = 5_000;

/** A secret SSM says does not exist: its variable, its `--secret` reference and the parameter read. */
export interface MissingSecret {
  name: string;
  ref: string;
  parameter: string;
}

/**
 * The first of `secrets` (name to `ssm:`/`secretsmanager:` reference) that SSM reports missing,
 * read where the workers read it: `target`'s region, profile and endpoint on AWS or an emulated
 * stack, the caller's default chain for local workers.
 */
export async function findMissingSecret(secrets: Record<string, string>, target: AwsTarget | undefined): Promise<MissingSecret | undefined> {
  const client = new SSMClient({
    ...(target?.region ? { region: target.region } : {}),
    ...(target?.profile ? { profile: target.profile } : {}),
    ...(target?.credentials ? { credentials: target.credentials } : {}),
    ...(target?.ssmEndpoint ? { endpoint: target.ssmEndpoint } : {}),
    maxAttempts: 2,
  });
  let timer: NodeJS.Timeout | undefined;
  // Finding credentials comes before the request the abort signal bounds: bound the whole check.
  const giveUp = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), LOOKUP_TIMEOUT_MS + 1_000)));
  try {
    const all = Promise.all(Object.entries(secrets).map(([name, ref]) => lookup(client, name, ref)));
    return (await Promise.race([all, giveUp]))?.find((m) => m !== undefined);
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

async function lookup(client: SSMClient, name: string, ref: string): Promise<MissingSecret | undefined> {
  const parsed = parseSecretRef(ref);
  const parameter = ssmParameterName(parsed);
  try {
    // A parameter's existence needs no decryption (nor its value on this machine); Parameter
    // Store's Secrets Manager references are only served decrypted.
    await client.send(new GetParameterCommand({ Name: parameter, WithDecryption: parsed.store === "secretsmanager" }), { abortSignal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS) });
    return undefined;
  } catch (err) {
    return (err as { name?: string }).name === "ParameterNotFound" ? { name, ref, parameter } : undefined;
  }
}
