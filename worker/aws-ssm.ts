/**
 * Reading secrets through SSM Parameter Store: a parameter by name, and a Secrets Manager
 * secret through Parameter Store's reference path (src/secret-ref.ts), so one client serves
 * both. The SDK's own chain picks the credentials, the region and the
 * endpoint (AWS_ENDPOINT_URL_SSM routes it to a loopback fake in tests).
 */
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { ssmParameterName } from "../src/secret-ref.js";
import { SecretError, type SecretReader } from "./secrets.js";

export function ssmSecretReader(): SecretReader {
  let client: SSMClient | undefined;
  return async (ref) => {
    client ??= new SSMClient({});
    const name = ssmParameterName(ref);
    try {
      const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      return out.Parameter?.Value ?? "";
    } catch (err) {
      const type = (err as { name?: string }).name;
      if (type === "ParameterNotFound") throw new SecretError(`not found as ${name}`, "E_SECRET_NOT_FOUND");
      if (type === "AccessDeniedException") throw new SecretError(`the worker's role may not read ${name}`, "E_SECRET_DENIED");
      throw err;
    }
  };
}
