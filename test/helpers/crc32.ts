/** CRC-32 (IEEE) of examples/crc32.ts's strings: "123456789" is the standard check value; the rest agree with zlib.crc32. */
export const CRC32_EXPECTED = {
  "": "00000000",
  hello: "3610a686",
  "The quick brown fox jumps over the lazy dog": "414fa339",
  "123456789": "cbf43926",
  fanout: "566f27a2",
};
