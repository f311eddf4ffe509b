/**
 * Entry point of the Lambda deployment package (scripts/bundle-lambda.js bundles this file):
 * sets up the process once per container and exports the handler.
 */
import { makeS3Client, RESULT_PUT_RETRY, S3Store } from "../src/store/s3.js";
import { ssmSecretReader } from "./aws-ssm.js";
import { createLambdaHandler, holdExit } from "./lambda-handler.js";
import { guardProcess } from "./guard.js";
import { captureConsole, chunkScope } from "./scope.js";

// Remote stacks should name the user's TypeScript lines (job bundles carry inline source maps).
process.setSourceMapsEnabled(true);
captureConsole(true);
guardProcess((err) => console.error("fanout worker: uncaught error outside any chunk:", err));
process.exit = holdExit(process.exit, () => chunkScope.getStore() !== undefined);

/** The endpoint variable routes S3 to an emulator (serverless-offline passes AWS_* through). */
const endpoint = process.env.AWS_ENDPOINT_URL_S3 || undefined;

const client = makeS3Client({
  ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
  ...(endpoint ? { endpoint } : {}),
  retry: RESULT_PUT_RETRY,
});

export const handler = createLambdaHandler((bucket) => new S3Store(client, bucket), ssmSecretReader());
