/** One object as a listing (S3 or local files) found it: what the planner splits. */
export interface Listed {
  url: string;
  key: string;
  size: number;
  etag: string;
  gzip: boolean;
}

/** Listed objects, and the local files to upload to the run store first (store key -> path). */
export interface ListedInputs {
  listed: Listed[];
  uploads: Map<string, string>;
}

/**
 * The URL scheme of a local file uploaded to the run store for remote workers:
 * `store:inputs/<sha256>`, read from the run's own store (its content hash is its etag).
 */
const STORED = "store:";

/** The URL of the run store's object `key`. */
export function storedUrl(key: string): string {
  return STORED + key;
}

/** The run store key a `store:` URL names, or undefined for any other URL. */
export function storedKey(url: string): string | undefined {
  return url.startsWith(STORED) ? url.slice(STORED.length) : undefined;
}

/**
 * lines() over a listing of at most this many objects asks S3 for each one's Content-Encoding
 * (one HEAD each, 32 at once); a larger one decides gzip by the .gz suffix alone, and the
 * worker that reads an object's first bytes refuses gzip data (objects.ts GzipInputError).
 */
export const HEAD_AT_MOST = 64;
