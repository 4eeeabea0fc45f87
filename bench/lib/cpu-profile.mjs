// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, largest first.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function where(url, line) {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const shown = path.startsWith(ROOT) ? relative(ROOT, path) : path;
  return `${shown}:${line + 1}`;
}

/**
 * Self time in the profile at `path`, largest first: the `top` functions as `{ fn, at, ms, share }`
 * and the `top` source files as `{ file, ms, share }`; and the inclusive time (itself and what it
 * calls) of each function named in `inclusiveOf`. Shares are of all sampled time (idle and GC
 * included, as V8 records them).
 */
export function topSelfTime(path, top = 15, inclusiveOf = []) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    // A sample lasts until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    total += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const byFunction = new Map();
  const byFile = new Map();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const key = `${functionName || '(anonymous)'}\t${where(url, lineNumber)}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const file = where(url, 0).replace(/:1$/, '') || `(${functionName || 'native'})`;
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map(inclusiveOf.map((name) => [name, 0]));
  for (const [id, us] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const name = nodes.get(at).callFrame.functionName;
      if (inclusive.has(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, inclusive.get(name) + us);
      }
    }
  }
  const ms = (us) => Math.round(us / 1000);
  const share = (us) => Math.round((us / total) * 1000) / 1000;
  const largest = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    total_ms: ms(total),
    functions: largest(byFunction).map(([key, us]) => {
      const [fn, at] = key.split('\t');
      return { fn, at, ms: ms(us), share: share(us) };
    }),
    files: largest(byFile).map(([file, us]) => ({ file, ms: ms(us), share: share(us) })),
    inclusive: [...inclusive.entries()].map(([fn, us]) => ({ fn, ms: ms(us), share: share(us) })),
  };
}
