import { defineConfig } from '@playwright/test';
import path from 'node:path';

// The suite runs against a freshly built release binary on its own port
// and data directory; the binary carries the pages' assets itself.
const root = path.resolve(__dirname, '..');
export const dataDir = path.join(root, 'target', 'e2e-data');
export const binary = path.join(root, 'target', 'release', 'satchel');
// Explicit, so a DATABASE_URL in the environment (the Rust tests' PostgreSQL) is not used.
export const databaseUrl = `sqlite://${dataDir}/satchel.db`;
const port = Number(process.env.SATCHEL_E2E_PORT ?? 3100);

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `rm -rf '${dataDir}' && exec '${binary}' serve --listen 127.0.0.1:${port} --data-dir '${dataDir}' --database-url '${databaseUrl}'`,
    cwd: root,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { RUST_LOG: 'warn' },
  },
});
