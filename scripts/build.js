// Compiles the library, CLI and worker with tsc into dist/ (declarations included), then
// bundles the Lambda worker into one small ESM file for the deployment package.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

// dist/ is overwritten in place, not removed first: tests and an emulator may be running
// from it while someone rebuilds.
const require = createRequire(import.meta.url);
const tsc = require.resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { stdio: "inherit" });
const { bundleLambdaWorker } = await import("./bundle-lambda.js");
await bundleLambdaWorker();
