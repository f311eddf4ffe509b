// Memory tiers: `fanout deploy --memory 1024,3008,10240` deploys one worker function per tier.
// The first tier is the `worker` function of serverless.yml (param `memory`); each other tier in
// param `tiers` (comma-separated MB, checked by cli/commands/deploy.ts) is one more function,
// `worker<MB>` (fanout-<stage>-worker<MB>), with the same handler, role, timeout and /tmp. Separate
// functions rather than versions with aliases, because serverless-offline serves functions by
// name but ignores aliases: the emulated stack then runs the same tiers as AWS.
// Output WorkerTiers ("1024=fanout-dev-worker,3008=fanout-dev-worker3008") is how
// `fanout run --memory` finds them (src/compute/aws/target.ts).
"use strict";

async function tiersOf(resolveVariable) {
  const memory = Number(await resolveVariable("param:memory, 1769"));
  const listed = String((await resolveVariable("param:tiers, ''")) ?? "")
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((mb) => Number.isInteger(mb) && mb > 0);
  return { memory, extra: [...new Set(listed)].filter((mb) => mb !== memory) };
}

/** The functions of the tiers past the first: merged into serverless.yml's functions. */
module.exports.functions = async ({ resolveVariable }) => {
  const { extra } = await tiersOf(resolveVariable);
  const handler = await resolveVariable("param:handler, 'dist/lambda/index.handler'");
  const ephemeralStorageSize = Number(await resolveVariable("param:tmp, 512"));
  return Object.fromEntries(
    extra.map((mb) => [`worker${mb}`, { handler, memorySize: mb, ephemeralStorageSize, description: `fanout worker, ${mb} MB tier (runs one chunk per invocation)` }]),
  );
};

/** The WorkerTiers output: every tier's memory and function name, the first being `worker`'s. */
module.exports.outputs = async ({ resolveVariable }) => {
  const { memory, extra } = await tiersOf(resolveVariable);
  const pair = (mb, logicalId) => ({ "Fn::Join": ["=", [String(mb), { Ref: logicalId }]] });
  return {
    Outputs: {
      WorkerTiers: {
        Description: "memory tiers (MB) and their worker functions",
        Value: { "Fn::Join": [",", [pair(memory, "WorkerLambdaFunction"), ...extra.map((mb) => pair(mb, `Worker${mb}LambdaFunction`))]] },
      },
    },
  };
};
