// UI benchmark: server-rendered first paint and hydration time of the profiles page (median of
// 10 cold loads), and the time from a keystroke in the profile editor to the end of the
// validation it triggers (p50, p99 over 300 keystrokes), in headless Chromium against the
// release server. Run through scripts/bench-ui.sh, which builds nothing: run `./dev build` first.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from '@playwright/test';

const root = resolve(import.meta.dirname, '..');
const binary = process.env.OUTMAIL_BINARY ?? join(root, 'target', 'release', 'outmail');
const LOADS = 10;
const KEYSTROKES = 300;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return percentile(sorted, 50);
}

async function startServer(dataDir) {
  const child = spawn(binary, ['serve', '--bind', '127.0.0.1:0', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, OUTMAIL_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((done, fail) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) done(match[1]);
    });
    child.once('exit', (code) => fail(new Error(`outmail exited with ${code}`)));
  });
  return { child, url };
}

// Every page needs a signed-in user: an admin made with the CLI (password on stdin) before the
// server starts.
const ADMIN = { email: 'bench@example.com', password: 'bench admin password' };
const dataDir = mkdtempSync(join(tmpdir(), 'outmail-bench-ui-'));
const created = spawnSync(binary, ['admin', 'create', '--data-dir', dataDir, '--email', ADMIN.email, '--role', 'admin'], {
  cwd: root,
  input: `${ADMIN.password}\n`,
  encoding: 'utf8',
});
if (created.status !== 0) throw new Error(`outmail admin create failed: ${created.stdout}${created.stderr}`);
const { child, url } = await startServer(dataDir);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  // Twenty profiles, so the list page renders real rows.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // context.request shares the browser context's cookies; writes from outside a page need the
  // server's own Origin (CSRF rule).
  const origin = { Origin: url };
  const signedIn = await context.request.post(`${url}/api/v1/session`, { data: ADMIN, headers: origin });
  if (signedIn.status() !== 200) throw new Error(`sign-in failed: ${signedIn.status()} ${await signedIn.text()}`);
  const session = await context.storageState();
  for (let n = 0; n < 20; n++) {
    const response = await context.request.post(`${url}/api/v1/profiles`, {
      headers: origin,
      data: {
        name: `Bench relay ${n}`,
        transport: { kind: 'smtp', host: `smtp${n}.example.com`, port: 587, security: 'starttls', auth: { kind: 'none' } },
        sender: { address: `alerts${n}@example.com` },
      },
    });
    if (response.status() !== 201) throw new Error(`seeding failed: ${response.status()} ${await response.text()}`);
  }

  // Cold loads: a new context each time, so nothing is cached; only the session cookie is kept.
  const paints = [];
  const hydrations = [];
  for (let n = 0; n < LOADS; n++) {
    const cold = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState: session });
    const page = await cold.newPage();
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.querySelector('.app')?.getAttribute('data-hydrated') === 'true') {
          window.__hydratedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
    });
    await page.goto(`${url}/`);
    await page.waitForFunction(() => window.__hydratedAt !== undefined);
    const timing = await page.evaluate(() => ({
      paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      hydrated: window.__hydratedAt,
    }));
    paints.push(timing.paint);
    hydrations.push(timing.hydrated);
    await cold.close();
  }

  // Keystrokes in the editor's Name field: each input event runs the draft's validation (the
  // shared outmail-types rules in WASM) and updates the page; timed until the task after it.
  const page = await context.newPage();
  await page.goto(`${url}/profiles/new`);
  await page.waitForSelector('.app[data-hydrated="true"]');
  await page.waitForSelector('#f-name');
  const keystrokes = await page.evaluate(async (count) => {
    const input = document.querySelector('#f-name');
    const nextTask = () => new Promise((done) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => done();
      channel.port2.postMessage(null);
    });
    const times = [];
    for (let n = 0; n < count; n++) {
      const started = performance.now();
      input.value += 'abcdefghij'[n % 10];
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await nextTask();
      times.push(performance.now() - started);
    }
    return times;
  }, KEYSTROKES);
  const sorted = [...keystrokes].sort((a, b) => a - b);

  const ms = (value) => `${value.toFixed(1)} ms`;
  console.log(`outmail UI benchmark: ${url}, Chromium headless, 1280x800`);
  console.log(`profiles page, ${LOADS} cold loads: first contentful paint median ${ms(median(paints))} (min ${ms(Math.min(...paints))}, max ${ms(Math.max(...paints))})`);
  console.log(`profiles page, ${LOADS} cold loads: hydrated median ${ms(median(hydrations))} (min ${ms(Math.min(...hydrations))}, max ${ms(Math.max(...hydrations))})`);
  console.log(`editor, ${KEYSTROKES} keystrokes in Name: p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted[sorted.length - 1])}`);
} finally {
  await browser.close();
  child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
