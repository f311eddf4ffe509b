// CRC-32 of known strings with a native addon: @node-rs/crc32 ships its compiled code as
// per-platform npm packages (@node-rs/crc32-linux-x64-gnu, -linux-arm64-gnu, ...), which no
// bundle can hold. fanout leaves it external: locally the workers import the installed
// package; on Lambda they import it from an archive installed for the function's platform.
import { crc32 } from "@node-rs/crc32";
import { defineJob } from "fanout";

export const STRINGS = ["", "hello", "The quick brown fox jumps over the lazy dog", "123456789", "fanout"];

export default defineJob({
  input: STRINGS,
  map: (chunk) => chunk.map((s) => ({ s, crc: crc32(s) })),
  reduce: (parts) => Object.fromEntries(parts.flat().map(({ s, crc }) => [s, crc.toString(16).padStart(8, "0")])),
  defaults: { chunks: 5 },
});
