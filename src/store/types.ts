/** Object storage as fanout uses it: the folder store and S3 implement the same calls. */
export interface ObjectStore {
  /** Human-readable location, e.g. `.fanout/` or `s3://bucket`. */
  readonly location: string;
  get(key: string): Promise<Buffer>;
  /** Bytes [start, end) of an object; `end` past the object's size is clipped. */
  getRange(key: string, start: number, end: number): Promise<Buffer>;
  /** Undefined when the object does not exist. */
  getIfExists(key: string): Promise<Buffer | undefined>;
  put(key: string, body: Buffer | string): Promise<void>;
  /** Upload a local file (streamed; S3 uses multipart for large files). */
  putFile(key: string, path: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix, in key order. */
  list(prefix: string): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
  /** A local file path for the key when the store is a folder (lets workers import bundles in place). */
  localPath?(key: string): string;
}

/** Thrown by stores for a missing object, so callers can tell it from an outage. */
export class NoSuchKeyError extends Error {
  override name = "NoSuchKeyError";
  constructor(readonly key: string, location: string) {
    super(`no object "${key}" in ${location}`);
  }
}
