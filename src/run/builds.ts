import type { RunBuild, RunManifest } from "../types.js";

/** The builds of a run, oldest first; a manifest from before rebuilds has its one build. */
export function buildsOf(m: RunManifest): RunBuild[] {
  return m.builds ?? [{ bundleKey: m.job.bundleKey, bundleSha256: m.job.bundleSha256, startedAt: m.createdAt }];
}

/**
 * Hand the run to a new build (`--resume --rebuild`): the current build's chunks are written
 * down (those done and not listed under an earlier build), and the new build becomes the last.
 */
export function addBuild(m: RunManifest, bundleKey: string, bundleSha256: string, done: ReadonlySet<number>): void {
  const builds = buildsOf(m);
  const last = builds[builds.length - 1]!;
  const earlier = new Set(builds.slice(0, -1).flatMap((b) => b.chunks ?? []));
  last.chunks = [...done].filter((i) => !earlier.has(i)).sort((a, b) => a - b);
  builds.push({ bundleKey, bundleSha256, startedAt: new Date().toISOString() });
  m.builds = builds;
  m.job = { ...m.job, bundleKey, bundleSha256 };
}

/** How many of the finished chunks each build made. */
export function chunksPerBuild(m: RunManifest, done: ReadonlySet<number>): { bundleSha256: string; chunks: number }[] {
  const builds = buildsOf(m);
  const listed = new Set<number>();
  const out = builds.slice(0, -1).map((b) => {
    const mine = (b.chunks ?? []).filter((i) => done.has(i));
    for (const i of mine) listed.add(i);
    return { bundleSha256: b.bundleSha256, chunks: mine.length };
  });
  let rest = 0;
  for (const i of done) if (!listed.has(i)) rest++;
  out.push({ bundleSha256: builds[builds.length - 1]!.bundleSha256, chunks: rest });
  return out;
}
