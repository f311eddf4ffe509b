import { build } from "esbuild";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The Lambda deployment package: the worker handler and the S3 client parts it uses, nothing
 * else (no CLI, no esbuild). Built for node20 so the same file also runs in local emulation;
 * the Lambda runtime (nodejs22.x) runs node20 code unchanged. A detached run's driver
 * (worker/driver.ts: the executor and the Lambda client) is a second file, driver.mjs, which
 * the handler imports only for a driver event: a chunk's cold start loads one file, as before.
 */
export async function bundleLambdaWorker() {
  const entry = fileURLToPath(new URL("../worker/lambda.ts", import.meta.url));
  if (!existsSync(entry)) return;
  const outfile = fileURLToPath(new URL("../dist/lambda/index.mjs", import.meta.url));
  const driverEntry = fileURLToPath(new URL("../worker/driver.ts", import.meta.url));
  const driverOut = fileURLToPath(new URL("../dist/lambda/driver.mjs", import.meta.url));
  const results = await Promise.all([
    build({ ...COMMON, entryPoints: [entry], outfile, plugins: [driverApart] }),
    build({ ...COMMON, entryPoints: [driverEntry], outfile: driverOut }),
  ]);
  // Written aside and renamed: a running emulator may load the file at any moment. The
  // driver goes first, so it is there when a new entry asks for it.
  mkdirSync(dirname(outfile), { recursive: true });
  for (const f of [...results[1].outputFiles, ...results[0].outputFiles]) {
    writeFileSync(`${f.path}.tmp`, f.contents);
    renameSync(`${f.path}.tmp`, f.path);
  }
}

const COMMON = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  write: false,
  sourcemap: true,
  minify: true,
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
};

/** The handler's `import("./driver.js")` stays an import, of the driver's own file beside it. */
const driverApart = {
  name: "driver-apart",
  setup(b) {
    b.onResolve({ filter: /^\.\/driver\.js$/ }, () => ({ path: "./driver.mjs", external: true }));
  },
};
