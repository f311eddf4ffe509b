import { createHash } from "node:crypto";
import * as fs from "node:fs";

/** The sha256 of a file (hex), streamed so a large file is never held whole. */
export async function hashFile(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}
