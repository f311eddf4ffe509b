/**
 * Where a `--secret` lives, shared by the client (which checks it exists before dispatch) and
 * the worker (which reads it): an SSM parameter, or a Secrets Manager secret read through
 * Parameter Store's reference path `/aws/reference/secretsmanager/<id>` ("Referencing AWS
 * Secrets Manager secrets from Parameter Store parameters",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/integration-ps-secretsmanager.html),
 * so one SSM client serves both.
 */

/** Where a secret lives: an SSM parameter name, or a Secrets Manager secret name or ARN. */
export interface SecretRef {
  store: "ssm" | "secretsmanager";
  id: string;
}

/** `ssm:/path` or `secretsmanager:<name or arn>`, as `--secret` takes it (checked by src/options.ts). */
export function parseSecretRef(ref: string): SecretRef {
  const at = ref.indexOf(":");
  return { store: ref.slice(0, at) as SecretRef["store"], id: ref.slice(at + 1) };
}

/** The SSM parameter name GetParameter reads for `ref`. */
export function ssmParameterName(ref: SecretRef): string {
  return ref.store === "ssm" ? ref.id : `/aws/reference/secretsmanager/${ref.id}`;
}
