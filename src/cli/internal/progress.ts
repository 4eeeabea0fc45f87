import cliProgress from 'cli-progress';

/** Files above this size get a progress bar when stderr is a terminal. */
const THRESHOLD = 8 * 1024 * 1024;

/** A progress callback that draws a bar on a TTY, or nothing. Call `stop()` when done. */
export function progressFor(
  label: string,
  total: number | undefined,
  enabled: boolean,
): { onProgress?: (bytes: number) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY || total === undefined || total < THRESHOLD)
    return { stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} MiB | {speed} MB/s | ETA {eta}s`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const mib = (b: number): number => Math.round(b / 1048576);
  const started = Date.now();
  bar.start(mib(total), 0, { speed: '0' });
  return {
    onProgress: (bytes) => {
      const secs = (Date.now() - started) / 1000;
      bar.update(mib(bytes), { speed: secs > 0 ? (bytes / 1e6 / secs).toFixed(0) : '0' });
    },
    stop: () => bar.stop(),
  };
}
