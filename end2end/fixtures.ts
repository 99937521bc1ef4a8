// Test fixtures: a release outmail server per worker, on a free port, with its own data folder.
import { test as base, expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const projectRoot = resolve(__dirname, '..');
const binary = process.env.OUTMAIL_BINARY ?? join(projectRoot, 'target', 'release', 'outmail');
const startTimeoutMs = 30_000;

export type OutmailServer = {
  url: string;
  dataDir: string;
  /** Everything the server wrote to stdout and stderr so far. */
  output: () => string;
};

/** Starts `outmail serve` on port 0 and resolves with the URL it prints once listening. */
async function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  // Started from the project root, as the README does, so it finds target/site.
  const child = spawn(binary, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], {
    cwd: projectRoot,
    env: { ...process.env, OUTMAIL_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const output = () => log;
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`outmail did not start within ${startTimeoutMs} ms:\n${log}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`outmail exited with ${code} before listening:\n${log}`));
    });
  });
  return { child, url, output };
}

async function stopServer(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  child.kill('SIGTERM');
  return exited;
}

export const test = base.extend<{ consoleErrors: string[] }, { server: OutmailServer }>({
  server: [
    async ({}, use) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'outmail-e2e-'));
      const { child, url, output } = await startServer(dataDir);
      await use({ url, dataDir, output });
      const code = await stopServer(child);
      rmSync(dataDir, { recursive: true, force: true });
      // A server that crashed or ignored SIGTERM is a failure even if every page looked right.
      expect(code, `outmail exit code after SIGTERM; output:\n${output()}`).toBe(0);
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ server }, use) => use(server.url),
  // Hydration mismatches and panics show up only in the browser console: collect them so a
  // test can assert there were none.
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await use(errors);
  },
});

export { expect };
