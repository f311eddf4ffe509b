// Preloaded into the emulated stack's s3rver (src/compute/aws/s3rver.ts starts it with
// --require). S3 replaces an object whole: a GET sees the old object or the new one, never a
// part of one ("Amazon S3 data consistency model",
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel).
// s3rver truncates an object's file and writes it in place (and answers a PUT of a buffer
// before its bytes are written), so a GET meanwhile gets a short or empty body: a run's
// manifest, read while its driver rewrites it, came back empty. Here each file is written
// beside its final name and renamed over it once complete, and a GET takes the object's
// length from the file it opened, not from an earlier stat of whatever file was there then.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { Transform } = require("node:stream");
const { pipeline } = require("node:stream/promises");
const FilesystemStore = require("s3rver/lib/stores/filesystem");
const S3Object = require("s3rver/lib/models/object");

let written = 0;

/** Write `data` (a buffer or a stream) beside `file`, then rename it over `file`. */
async function replace(file, data, onChunk) {
  const aside = `${file}.${process.pid}.${++written}.tmp`;
  try {
    if (Buffer.isBuffer(data) || typeof data === "string") {
      onChunk(Buffer.from(data));
      await fs.promises.writeFile(aside, data);
    } else {
      const tap = new Transform({
        transform(chunk, _encoding, callback) {
          onChunk(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(data, tap, fs.createWriteStream(aside));
    }
    await fs.promises.rename(aside, file);
  } catch (err) {
    await fs.promises.rm(aside, { force: true });
    throw err;
  }
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, "object");
  await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
  const md5 = crypto.createHash("md5");
  let size = 0;
  await replace(objectPath, object.content, (chunk) => {
    md5.update(chunk);
    size += chunk.length;
  });
  const digest = md5.digest("hex");
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
};

FilesystemStore.prototype.putMetadata = async function putMetadata(bucket, key, metadata, md5) {
  const json = {};
  for (const k of S3Object.ALLOWED_METADATA) if (metadata[k] !== undefined) json[k] = metadata[k];
  for (const [k, v] of Object.entries(metadata)) if (k.startsWith("x-amz-meta-")) json[k] = v;
  const none = () => {};
  if (md5) await replace(this.getResourcePath(bucket, key, "object.md5"), md5, none);
  await replace(this.getResourcePath(bucket, key, "metadata.json"), JSON.stringify(json, null, 2), none);
};

FilesystemStore.prototype.getObject = async function getObject(bucket, key, options) {
  let handle;
  try {
    handle = await fs.promises.open(this.getResourcePath(bucket, key, "object"), "r");
    const { size, mtime } = await handle.stat();
    const metadata = { ...(await this.getMetadata(bucket, key)), "content-length": size, "last-modified": mtime.toUTCString() };
    const lastByte = Math.max(0, size - 1);
    const range = { start: (options && options.start) || 0, end: Math.min((options && options.end) || Infinity, lastByte) };
    const ranged = options && (options.start !== undefined || options.end);
    if (range.start < 0 || Math.min(range.end, lastByte) < range.start) {
      // The range is not satisfiable.
      await handle.close();
      handle = undefined;
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    // The stream owns the open file from here (and closes it at its end).
    const content = handle.createReadStream({ start: range.start, end: range.end });
    handle = undefined;
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    if (err.code === "ENOENT") return null;
    throw err;
  }
};
