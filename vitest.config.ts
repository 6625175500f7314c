import { defineConfig } from 'vitest/config';

// Two projects so the fast pure-logic tests can run alone (`npm run test:unit`), while the
// integration tests (real ping/iperf3/Prometheus, network namespaces) run one file at a time:
// they share the host's namespace list and the machine's two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // Pure logic, but some tests parse every source file (no-shell, layout) or render the
          // manifests with kubectl: 5 s is too tight on two busy cores.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // One file at a time: namespaces, ports and the two cores are shared.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
