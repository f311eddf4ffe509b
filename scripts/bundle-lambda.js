import { build } from "esbuild";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The Lambda deployment package: the worker handler and the S3 client parts it uses, nothing
 * else (no CLI, no esbuild, no Lambda client). Built for node20 so the same file also runs in
 * local emulation; the Lambda runtime (nodejs22.x) runs node20 code unchanged.
 */
export async function bundleLambdaWorker() {
  const entry = fileURLToPath(new URL("../worker/lambda.ts", import.meta.url));
  if (!existsSync(entry)) return;
  const outfile = fileURLToPath(new URL("../dist/lambda/index.mjs", import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    write: false,
    sourcemap: true,
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  // Written aside and renamed: a running emulator may load the file at any moment.
  mkdirSync(dirname(outfile), { recursive: true });
  for (const f of result.outputFiles) {
    writeFileSync(`${f.path}.tmp`, f.contents);
    renameSync(`${f.path}.tmp`, f.path);
  }
}
