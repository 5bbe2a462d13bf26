import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Lab tests build network namespaces and sshd servers; two cores do not gain from running them side by side.
    fileParallelism: false,
    reporters: ['default'],
    globalSetup: ['test/global-setup.ts'],
  },
});
