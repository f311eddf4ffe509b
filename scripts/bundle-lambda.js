import { build } from "esbuild";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The Lambda deployment package: the worker handler and the S3 client parts it uses, nothing
 * else (no CLI, no esbuild). Built for node20 so the same file also runs in local emulation;
 * the Lambda runtime (nodejs22.x) runs node20 code unchanged. Split: a detached run's driver
 * (worker/driver.ts, with the executor and the Lambda client) is a chunk of its own that the
 * handler imports only for a driver event, so a chunk's cold start does not parse it.
 */
export async function bundleLambdaWorker() {
  const entry = fileURLToPath(new URL("../worker/lambda.ts", import.meta.url));
  if (!existsSync(entry)) return;
  const outdir = fileURLToPath(new URL("../dist/lambda/", import.meta.url));
  const result = await build({
    entryPoints: { index: entry },
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outdir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "[name]-[hash]",
    write: false,
    sourcemap: true,
    minify: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  // Written aside and renamed: a running emulator may load the file at any moment. The
  // entry goes last, so the chunks it names are there when it is loaded.
  mkdirSync(outdir, { recursive: true });
  const isEntry = (f) => /[\\/]index\.mjs(\.map)?$/.test(f.path);
  for (const f of [...result.outputFiles.filter((f) => !isEntry(f)), ...result.outputFiles.filter(isEntry)]) {
    writeFileSync(`${f.path}.tmp`, f.contents);
    renameSync(`${f.path}.tmp`, f.path);
  }
  // Chunks of earlier builds (their names carry a hash) would only bloat the package.
  const made = new Set(result.outputFiles.map((f) => basename(f.path)));
  for (const f of readdirSync(outdir)) if (!made.has(f)) rmSync(join(outdir, f), { force: true });
}
