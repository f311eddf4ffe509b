#!/usr/bin/env node
// The SDK's Node-version notice is for SDK maintainers' users at large, not fanout's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// `fanout ... | head` closes the pipe early: that is not an error.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv);
