/** One object as a listing (S3 or local files) found it: what the planner splits. */
export interface Listed {
  url: string;
  key: string;
  size: number;
  etag: string;
  gzip: boolean;
}
