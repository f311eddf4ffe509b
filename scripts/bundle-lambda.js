import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

/**
 * The Lambda deployment package: the worker handler and the S3 client parts it uses, nothing
 * else (no CLI, no esbuild, no Lambda client). Built for node20 so the same file also runs in
 * local emulation; the Lambda runtime (nodejs22.x) runs node20 code unchanged.
 */
export async function bundleLambdaWorker() {
  const entry = fileURLToPath(new URL("../worker/lambda.ts", import.meta.url));
  if (!existsSync(entry)) return;
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: fileURLToPath(new URL("../dist/lambda/index.mjs", import.meta.url)),
    sourcemap: true,
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
