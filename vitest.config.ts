import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Kafka broker per run, started only when a Kafka test file is selected (test/kafka/global-setup.ts).
    globalSetup: ['test/kafka/global-setup.ts'],
    // Removes the temporary folders each test file made (test/helpers/cleanup.ts).
    setupFiles: ['test/helpers/cleanup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start real processes and brokers; two cores cannot run many at once.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
