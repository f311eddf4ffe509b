/**
 * Entry point of a local worker process: builds a LocalWorker from the environment the local
 * backend sets, and wires it to the process's IPC channel.
 */
import type { ToParent, ToWorker } from "../src/compute/local/protocol.js";
import { FolderStore } from "../src/store/folder.js";
import { guardProcess } from "./guard.js";
import { LocalWorker } from "./local-worker.js";
import { captureConsole } from "./scope.js";
import type { SecretReader } from "./secrets.js";
import { defaultBundleCacheDir } from "../src/util/bundle-cache.js";

const storeRoot = process.env.FANOUT_STORE_ROOT;
if (!storeRoot || !process.send) {
  console.error("fanout worker: start me through the local backend (FANOUT_STORE_ROOT and an IPC channel are needed)");
  process.exit(2);
}

const send = (msg: ToParent): void => void process.send!(msg);
const memoryMb = Number(process.env.FANOUT_MEMORY_MB) || undefined;
// The SDK loads only in a process that serves a run with secrets.
let ssm: Promise<SecretReader> | undefined;
const readSecret: SecretReader = async (ref) => (await (ssm ??= import("./aws-ssm.js").then((m) => m.ssmSecretReader())))(ref);
const worker = new LocalWorker({
  store: new FolderStore(storeRoot),
  pid: process.pid,
  ...(memoryMb ? { memoryMb } : {}),
  cacheDir: defaultBundleCacheDir(),
  send,
  readSecret,
});

// Remote stacks should name the user's TypeScript lines (job bundles carry inline source maps).
process.setSourceMapsEnabled(true);
captureConsole(false);

const realExit = guardProcess((err, exit) => {
  console.error("fanout worker: uncaught error outside any chunk:", err);
  exit(70);
});

process.on("message", (msg: ToWorker) => worker.onMessage(msg));
// The parent kills a process that stays silent past a chunk's deadline; a free event loop says so.
setInterval(() => send({ t: "beat" }), 1000).unref();
process.on("disconnect", () => realExit(0));
send({ t: "ready", pid: process.pid });
