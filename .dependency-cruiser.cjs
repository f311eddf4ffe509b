// fanout's import rules (issue 9, "Habits that keep it this way"). test/architecture.test.ts
// runs `depcruise` with this file over the TypeScript sources, so `npm test` (and CI) fails
// on any violation. Run it by hand with `npm run lint:deps`.
//
// The shape it keeps:  cli/ -> src/ <- worker/ (the remote side), and inside src/ the layers
//   run, bench, report  ->  exec  ->  compute  ->  plan, store  ->  types, errors, options,
//   serialize, task, util/, job/
// point one way only.

/** Folders of src/ above a given layer, as a regex alternation. */
const above = {
  exec: "run|bench|report",
  compute: "exec|run|bench|report",
  store: "plan|compute|exec|run|bench|report",
  plan: "compute|exec|run|bench|report",
  base: "store|plan|compute|exec|run|bench|report",
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import cycles make load order matter and modules impossible to read alone. Move what both sides share into a leaf module.",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-orphans",
      severity: "error",
      comment: "A module nothing imports and that imports nothing is dead or misplaced. Entries (the public API, the job contract, the CLI, the workers) are exempt.",
      from: {
        orphan: true,
        pathNot: ["\\.d\\.ts$", "^src/index\\.ts$", "^src/job/index\\.ts$", "^cli/main\\.ts$", "^worker/(local|lambda)\\.ts$"],
      },
      to: {},
    },
    {
      name: "src-not-to-cli",
      severity: "error",
      comment: "The library never depends on its command line: cli/ -> src/, never the reverse.",
      from: { path: "^src/" },
      to: { path: "^cli/" },
    },
    {
      name: "src-not-to-worker",
      severity: "error",
      comment: "worker/ is the remote side. (src/compute/local/pool.ts spawns worker/local.js by path, which is not an import.)",
      from: { path: "^src/" },
      to: { path: "^worker/" },
    },
    {
      name: "worker-not-to-cli",
      severity: "error",
      comment: "The remote side runs without the command line.",
      from: { path: "^worker/" },
      to: { path: "^cli/" },
    },
    {
      name: "worker-not-to-client",
      severity: "error",
      comment:
        "The remote side runs one chunk: it has no business with the client's run, executor or backends (the local pool's wire protocol aside). " +
        "worker/driver.ts is the exception: a detached run's driver on Lambda runs the client's executor through the client's AwsBackend, and only the handler's dynamic import for a driver event loads it.",
      from: { path: "^worker/", pathNot: "^worker/driver\\.ts$" },
      to: { path: "^src/(run|exec|bench|report)/|^src/compute/(open|types)\\.ts$|^src/compute/aws/" },
    },
    {
      name: "src-not-to-index",
      severity: "error",
      comment: "src/index.ts is the public surface for users; inside fanout import the module that defines a name.",
      from: { path: "^(src|cli|worker)/", pathNot: "^src/index\\.ts$" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "layer-exec",
      severity: "error",
      comment: "The executor schedules attempts on a Backend; it knows nothing of runs, bench or reports.",
      from: { path: "^src/exec/" },
      to: { path: `^src/(${above.exec})/` },
    },
    {
      name: "layer-compute",
      severity: "error",
      comment: "Backends run one task; they know nothing of the executor, runs, bench or reports.",
      from: { path: "^src/compute/" },
      to: { path: `^src/(${above.compute})/` },
    },
    {
      name: "layer-store",
      severity: "error",
      comment: "Object storage is a leaf service: it knows nothing of planning, backends, the executor or runs.",
      from: { path: "^src/store/" },
      to: { path: `^src/(${above.store})/` },
    },
    {
      name: "layer-plan",
      severity: "error",
      comment: "Planning chunks needs the store and the job contract only.",
      from: { path: "^src/plan/" },
      to: { path: `^src/(${above.plan})/` },
    },
    {
      name: "layer-base",
      severity: "error",
      comment: "The shared base (types, errors, options, serialize, task, util/) sits under every layer.",
      from: { path: "^src/([^/]+\\.ts|util/)", pathNot: "^src/index\\.ts$" },
      to: { path: `^src/(${above.base})/` },
    },
    {
      name: "job-imports-nothing",
      severity: "error",
      comment: "src/job/ is bundled into every user's job: it must import nothing (no fanout module, no SDK, no Node built-in).",
      from: { path: "^src/job/" },
      to: { pathNot: "^src/job/" },
    },
    {
      name: "aws-sdk-only-in-aws-code",
      severity: "error",
      // src/store/s3-data.ts reads the user's own buckets (s3:// inputs): the client lists with
      // it and local workers read with it too, loaded only when an input is on S3.
      // src/store/s3-output.ts writes ctx.write's objects to the user's --output prefix the same way.
      comment:
        "Only the AWS backend, the S3 stores and the Lambda worker load the AWS SDK, so local runs never pay for it. " +
        "worker/aws-*.ts: the worker's own AWS reads (secrets through SSM), which a local worker imports only when a run has secrets.",
      from: { pathNot: "^src/compute/aws/|^src/store/s3(-data|-output)?\\.ts$|^worker/lambda\\.ts$|^worker/aws-[^/]+\\.ts$" },
      to: { path: "^node_modules/(@aws-sdk|@smithy)/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing fails at run time.",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "not-to-dev-dep",
      severity: "error",
      comment: "Shipped code must not import devDependencies: users installing fanout do not get them. (The emulator spawns osls and s3rver by path, on purpose.)",
      from: { path: "^(src|cli|worker)/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "no-non-package-json",
      severity: "error",
      comment: "Every package imported must be declared in package.json.",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
  ],
  options: {
    // Read the TypeScript sources (not dist/), including type-only imports: a cycle through
    // types is still a cycle for a reader.
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^dist/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
  },
};
