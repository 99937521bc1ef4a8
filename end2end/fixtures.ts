// Test fixtures: a release outmail server per worker, on a free port, with its own data folder,
// its SMTP relay listening on another free loopback port, and two accounts made with the CLI (an
// admin and a viewer). Every page and API call needs a signed-in user, so the browser and the
// `request` fixture start signed in as the admin.
import {
  test as base,
  expect,
  type APIRequestContext,
  type BrowserContext,
  type Page,
  type PlaywrightWorkerArgs,
} from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const projectRoot = resolve(__dirname, '..');
const binary = process.env.OUTMAIL_BINARY ?? join(projectRoot, 'target', 'release', 'outmail');
const startTimeoutMs = 30_000;

export type Account = { email: string; password: string; role: 'admin' | 'viewer' };

// Fixed test passwords: every worker's server is new, so nothing outside the suite knows them.
export const ADMIN_PASSWORD = 'e2e admin password 1';
export const VIEWER_PASSWORD = 'e2e viewer password 2';
export const admin: Account = { email: 'admin@example.com', password: ADMIN_PASSWORD, role: 'admin' };
export const viewer: Account = { email: 'viewer@example.com', password: VIEWER_PASSWORD, role: 'viewer' };

/** Cookies and local storage of a context, as `storageState()` answers and the option takes. */
export type StorageState = Awaited<ReturnType<APIRequestContext['storageState']>>;

/** No session: for `test.use({ storageState: signedOut })` or a context of one's own. */
export const signedOut: StorageState = { cookies: [], origins: [] };

export type OutmailServer = {
  url: string;
  dataDir: string;
  /** The loopback port of the SMTP relay (`--smtp-bind 127.0.0.1:<port>`, no certificate). */
  smtpPort: number;
  /** Everything the server wrote to stdout and stderr so far. */
  output: () => string;
};

/** Creates an account with `outmail admin create`, which reads the password from stdin. */
function createAccount(dataDir: string, account: Account) {
  const result = spawnSync(
    binary,
    ['admin', 'create', '--data-dir', dataDir, '--email', account.email, '--role', account.role],
    { cwd: projectRoot, env: { ...process.env, OUTMAIL_LOG: 'info' }, input: `${account.password}\n`, encoding: 'utf8' },
  );
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`outmail admin create ${account.email} exited with ${result.status}:\n${result.stdout}${result.stderr}`);
  }
}

/** A loopback port nothing listens on right now, for a listener the server is told to bind. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const address = probe.address();
  await new Promise<void>((done) => probe.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Starts `outmail serve` on port 0 with `extraArgs` and resolves with the URL it prints once
 * listening. */
export async function startServer(
  dataDir: string,
  extraArgs: string[] = [],
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  // Started from the project root, as the README does, so it finds target/site. The specs run
  // far more test sends per admin than the default limit allows; that limit has Rust tests.
  const child = spawn(
    binary,
    ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir, '--test-sends-per-minute', '1000', ...extraArgs],
    {
      cwd: projectRoot,
      env: { ...process.env, OUTMAIL_LOG: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
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

export async function stopServer(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  child.kill('SIGTERM');
  return exited;
}

/** Signs in through the API and answers the session cookie as a storage state. The Origin
 * header is what the server's CSRF rule asks of clients that are not browsers. */
async function signIn(playwright: PlaywrightWorkerArgs['playwright'], url: string, account: Account): Promise<StorageState> {
  const api = await playwright.request.newContext({ baseURL: url, storageState: signedOut, extraHTTPHeaders: { Origin: url } });
  try {
    const response = await api.post('/api/v1/session', { data: { email: account.email, password: account.password } });
    if (response.status() !== 200) {
      throw new Error(`signing in as ${account.email} answered ${response.status()}: ${await response.text()}`);
    }
    return await api.storageState();
  } finally {
    await api.dispose();
  }
}

/** Collects what a page logs as an error and its uncaught exceptions. */
export function consoleErrorsOf(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

/** Chromium logs every Content-Security-Policy violation to the console ("Refused to …
 * because it violates the following Content Security Policy directive"). Listening there needs
 * no script in the page (which the policy itself might block), and watching the context covers
 * its popups too. */
function watchCsp(context: BrowserContext, violations: string[]) {
  context.on('console', (message) => {
    const text = message.text();
    if (text.includes('Content Security Policy') || text.includes('Refused to')) {
      violations.push(`${message.page()?.url() ?? '?'}: ${text}`);
    }
  });
}

type TestFixtures = {
  consoleErrors: string[];
  cspViolations: string[];
  /** A new page in a context of its own, signed in as `account`, or signed out for `null`. */
  pageAs: (account: Account | null) => Promise<Page>;
  /** An API context signed in as `account` (no cookie for `null`) sending exactly `headers`;
   * by default the server's own Origin, as the CSRF rule asks. */
  requestAs: (account: Account | null, headers?: Record<string, string>) => Promise<APIRequestContext>;
};

type WorkerFixtures = {
  server: OutmailServer;
  /** The admin's session, signed in once per worker. */
  adminState: StorageState;
};

export const test = base.extend<TestFixtures, WorkerFixtures>({
  server: [
    async ({}, use) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'outmail-e2e-'));
      // The accounts exist before the server starts, so it never waits for the first-admin setup.
      createAccount(dataDir, admin);
      createAccount(dataDir, viewer);
      // The SMTP relay (relay.spec.ts) on a loopback port chosen here, so a spec knows it without
      // reading the server's output. Loopback without a certificate: AUTH is offered in clear.
      const smtpPort = await freePort();
      const { child, url, output } = await startServer(dataDir, ['--smtp-bind', `127.0.0.1:${smtpPort}`]);
      await use({ url, dataDir, smtpPort, output });
      const code = await stopServer(child);
      rmSync(dataDir, { recursive: true, force: true });
      // A server that crashed or ignored SIGTERM is a failure even if every page looked right.
      expect(code, `outmail exit code after SIGTERM; output:\n${output()}`).toBe(0);
    },
    { scope: 'worker' },
  ],
  adminState: [async ({ playwright, server }, use) => use(await signIn(playwright, server.url, admin)), { scope: 'worker' }],
  baseURL: async ({ server }, use) => use(server.url),
  // Every page starts signed in as the admin; a spec opts out with test.use({ storageState: signedOut }).
  storageState: async ({ adminState }, use) => use(adminState),
  // API helpers act as the admin whatever the page is signed in as. Writes need the Origin
  // header, since a cookie alone is refused (CSRF).
  request: async ({ playwright, server, adminState }, use) => {
    const request = await playwright.request.newContext({
      baseURL: server.url,
      storageState: adminState,
      extraHTTPHeaders: { Origin: server.url },
    });
    await use(request);
    await request.dispose();
  },
  // A CSP violation means part of the page did not run or render as written: every test fails
  // on one, checked once the test's contexts are closed.
  cspViolations: [
    async ({}, use) => {
      const violations: string[] = [];
      await use(violations);
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true },
  ],
  context: async ({ context, cspViolations }, use) => {
    watchCsp(context, cspViolations);
    await use(context);
  },
  // Hydration mismatches and panics show up only in the browser console: collect them so a
  // test can assert there were none.
  consoleErrors: async ({ page }, use) => use(consoleErrorsOf(page)),
  pageAs: async ({ browser, playwright, server, cspViolations }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (account) => {
      const storageState = account ? await signIn(playwright, server.url, account) : signedOut;
      // The project's options (viewport, device) still apply to a context made here.
      const context = await browser.newContext({ baseURL: server.url, storageState });
      contexts.push(context);
      watchCsp(context, cspViolations);
      return context.newPage();
    });
    for (const context of contexts) await context.close();
  },
  requestAs: async ({ playwright, server }, use) => {
    const contexts: APIRequestContext[] = [];
    await use(async (account, headers = { Origin: server.url }) => {
      const storageState = account ? await signIn(playwright, server.url, account) : signedOut;
      const context = await playwright.request.newContext({ baseURL: server.url, storageState, extraHTTPHeaders: headers });
      contexts.push(context);
      return context;
    });
    for (const context of contexts) await context.dispose();
  },
});

export { expect };
