// Compiles the library, CLI and worker with tsc into dist/ (declarations included), then
// bundles the Lambda worker into one small ESM file for the deployment package.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { rmSync } from "node:fs";

const require = createRequire(import.meta.url);
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
const tsc = require.resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", "tsconfig.json"], { stdio: "inherit" });
const { bundleLambdaWorker } = await import("./bundle-lambda.js");
await bundleLambdaWorker();
