// The work of examples/crc32.ts (CRC-32 of the same strings) in plain JavaScript, with no
// package to ship: the reference of bench case h, which measures what the native package's
// archive costs a cold worker.
import { defineJob } from "fanout";

// examples/crc32.ts's STRINGS, copied: importing them would bring its native import along.
const STRINGS = ["", "hello", "The quick brown fox jumps over the lazy dog", "123456789", "fanout"];

const TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(s: string): number {
  let c = 0xffffffff;
  for (const byte of Buffer.from(s, "utf8")) c = TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export default defineJob({
  input: STRINGS,
  map: (chunk) => chunk.map((s) => ({ s, crc: crc32(s) })),
  reduce: (parts) => Object.fromEntries(parts.flat().map(({ s, crc }) => [s, crc.toString(16).padStart(8, "0")])),
  defaults: { chunks: 5 },
});
