// The faast.js side of the no-op benchmark: one exported function that does nothing.
// faast finds an ES module's file through FAAST_URL.
export const FAAST_URL = import.meta.url;

export function noop() {
  return undefined;
}
