// node:fs/promises with reads that break on demand, for `vi.mock('node:fs/promises', …)`: every
// file opened through it reads as usual until `broken.at` is set, then each read from that byte on
// finds the end of the file (`short`, as when another process cuts it) or fails (`eio`, a disk
// error). The test sets `broken` (made with `vi.hoisted`) and puts `at` back to -1 after.

/** When and how reads break; `at` -1: never. */
export interface BrokenReads {
  at: number;
  how: 'short' | 'eio';
}

/** `real` with its `open` wrapped so that the handles' reads break as `broken` says. */
export function withBrokenReads(
  real: typeof import('node:fs/promises'),
  broken: BrokenReads,
): typeof import('node:fs/promises') {
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      const read = handle.read.bind(handle) as (...a: unknown[]) => Promise<{ bytesRead: number }>;
      (handle as unknown as { read: unknown }).read = async (...a: unknown[]) => {
        const position = a[3] as number;
        if (broken.at >= 0 && position >= broken.at) {
          if (broken.how === 'eio') throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
          return { bytesRead: 0, buffer: a[0] };
        }
        return read(...a);
      };
      return handle;
    },
  };
}
