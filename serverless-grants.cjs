// The worker role's grants on the user's own data, from `fanout deploy --read/--write`
// (serverless.yml params `read` and `write`: comma-separated s3://bucket/prefix URLs,
// checked by cli/commands/deploy.ts). Each grant is scoped to exactly its prefix: GetObject
// on the prefix's objects and ListBucket with an s3:prefix condition to read; PutObject and
// AbortMultipartUpload on the prefix's objects to write. Never s3:* and never "*".
"use strict";

function parse(url) {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`not an s3://bucket/prefix URL: ${url}`);
  return { bucket: m[1], prefix: m[2] };
}

const arn = (rest) => ({ "Fn::Sub": `arn:\${AWS::Partition}:s3:::${rest}` });

function readStatements(url) {
  const { bucket, prefix } = parse(url);
  return [
    { Effect: "Allow", Action: ["s3:GetObject"], Resource: arn(`${bucket}/${prefix}*`) },
    {
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: arn(bucket),
      ...(prefix ? { Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
    },
  ];
}

function writeStatements(url) {
  const { bucket, prefix } = parse(url);
  return [{ Effect: "Allow", Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: arn(`${bucket}/${prefix}*`) }];
}

async function param(resolveVariable, name) {
  const v = await resolveVariable(`param:${name}, ''`);
  return String(v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** The statements of the worker's data policy ([] when no grant was asked for). */
module.exports = async ({ resolveVariable }) => {
  const read = await param(resolveVariable, "read");
  const write = await param(resolveVariable, "write");
  return [...read.flatMap(readStatements), ...write.flatMap(writeStatements)];
};
