import { defineConfig } from 'vitest/config';
import StallWatch from './test/reporters/stall-watch.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A test file whose thread is stuck fails, saying where, instead of holding the run forever.
    reporters: ['default', new StallWatch()],
  },
});
