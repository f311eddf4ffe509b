/** Split [0, n) into k contiguous parts whose sizes differ by at most one. */
export function splitPoints(n: number, k: number): number[] {
  // floor(i*n/k) computed as i*q + floor(i*r/k): i*n can pass 2^53 for large ranges, while
  // i*r < k^2 stays exact for any chunk count this side of 10^7.
  const q = Math.floor(n / k);
  const r = n - q * k;
  const pts: number[] = [];
  for (let i = 0; i <= k; i++) pts.push(i * q + Math.floor((i * r) / k));
  return pts;
}
