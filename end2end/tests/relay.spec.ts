// The SMTP relay page against the worker's own relay (fixtures.ts starts outmail with
// `--smtp-bind 127.0.0.1:<free port>` and no certificate): the listener and the settings a product
// enters, a token made for a product (shown once, then on the tokens page with smtp:submit and its
// tenant), a real SMTP submission in the last submissions and in the delivery log with its
// source, and a viewer's page without the token form.
import type { APIRequestContext, Page } from '@playwright/test';
import { connect, type Socket } from 'node:net';
import { test, expect, viewer, consoleErrorsOf } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

const READ_ONLY_NOTE = 'Read only: you are signed in as a viewer.';
const FORM = 'Create a token for this product';

async function hydrated(page: Page) {
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
}

/** Records layout shifts from the first paint, as layout.spec.ts does. */
async function recordShifts(page: Page) {
  await page.addInitScript(() => {
    (window as unknown as { shifts: number[] }).shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        (window as unknown as { shifts: number[] }).shifts.push((entry as unknown as { value: number }).value);
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
}

/** Nothing wider than the screen and, unless `shifts` is false (after a navigation inside the
 * page, whose shifts add to the page before), no layout shift to speak of since `recordShifts`. */
async function fitsTheScreen(page: Page, what: string, { shifts: checkShifts = true } = {}) {
  const { scrollWidth, innerWidth, shifts } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    shifts: (window as unknown as { shifts?: number[] }).shifts ?? [],
  }));
  expect(scrollWidth, `${what} is no wider than the screen`).toBeLessThanOrEqual(innerWidth);
  if (!checkShifts) return;
  const shift = shifts.reduce((sum, value) => sum + value, 0);
  expect(shift, `${what} cumulative layout shift`).toBeLessThan(0.05);
}

/** A tenant of its own for one test; answers its ID and version. */
async function createTenant(request: APIRequestContext): Promise<{ id: string; version: number }> {
  const id = unique('relay').replace(/[^a-z0-9]/g, '');
  const created = await request.post('/api/v1/tenants', {
    data: { id, name: `Relay tenant ${id}`, profile: { kind: 'use_global' } },
  });
  expect(created.status(), await created.text()).toBe(201);
  return { id, version: (await created.json()).version };
}

type Reply = { code: number; lines: string[] };

/** Just enough of an SMTP client to submit one message the way a product does: one command at a
 * time, each reply read whole (the last line of a reply is `ddd text`). */
class SmtpClient {
  private buffer = '';
  private failure: Error | null = null;
  private wake: () => void = () => {};

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('error', (error) => {
      this.failure = error;
      this.wake();
    });
    socket.on('close', () => {
      this.failure ??= new Error('the relay closed the connection');
      this.wake();
    });
  }

  static async open(port: number): Promise<SmtpClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new SmtpClient(socket);
  }

  get localPort(): number {
    return this.socket.localPort!;
  }

  async reply(): Promise<Reply> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lines = this.buffer.split('\r\n');
      const complete = lines.slice(0, -1);
      const last = complete.findIndex((line) => /^\d{3}( |$)/.test(line));
      if (last >= 0) {
        this.buffer = lines.slice(last + 1).join('\r\n');
        const reply = complete.slice(0, last + 1);
        return { code: Number(reply[0].slice(0, 3)), lines: reply.map((line) => line.slice(4)) };
      }
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete SMTP reply within 10 s; so far: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Sends `line` and expects `code`; the failure names the command only (never a credential). */
  async command(line: string, code: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    const reply = await this.reply();
    const verb = line.split(/[ :]/)[0];
    expect(reply.code, `${verb} answered ${reply.code} ${reply.lines.join(' | ')}`).toBe(code);
    return reply;
  }

  close() {
    this.socket.destroy();
  }
}

/** Submits one plain-text message with AUTH PLAIN; answers the client's port (the relay records
 * the client as `127.0.0.1:<port>`). */
async function submitOverSmtp(
  port: number,
  login: { username: string; password: string },
  mail: { from: string; to: string; subject: string },
): Promise<{ clientPort: number }> {
  const client = await SmtpClient.open(port);
  try {
    expect((await client.reply()).code, 'the greeting').toBe(220);
    const ehlo = await client.command('EHLO product.example', 250);
    expect(ehlo.lines.some((line) => /^AUTH\b.*\bPLAIN\b/i.test(line)), `EHLO offers AUTH PLAIN: ${ehlo.lines.join(' | ')}`).toBe(true);
    const plain = Buffer.from(`\0${login.username}\0${login.password}`).toString('base64');
    await client.command(`AUTH PLAIN ${plain}`, 235);
    await client.command(`MAIL FROM:<${mail.from}>`, 250);
    await client.command(`RCPT TO:<${mail.to}>`, 250);
    await client.command('DATA', 354);
    const message = [
      `From: ${mail.from}`,
      `To: ${mail.to}`,
      `Subject: ${mail.subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${Date.now()}.${Math.random().toString(36).slice(2)}@product.example>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Sent by a product that only knows SMTP.',
      '',
    ].join('\r\n');
    // The message ends with CRLF; the command adds the CRLF after the final dot.
    await client.command(`${message}.`, 250);
    const clientPort = client.localPort;
    await client.command('QUIT', 221);
    return { clientPort };
  } finally {
    client.close();
  }
}

test('the relay page shows the listener the server was started with and what a product enters', async ({
  page,
  context,
  server,
  consoleErrors,
}) => {
  await recordShifts(page);
  await page.goto('/relay');
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('SMTP relay');
  await expect(page).toHaveTitle('SMTP relay · outmail');
  await expect(page.locator('#relay-status')).toContainText('The relay is on.');

  // The one listener: loopback, no certificate, so no TLS and AUTH in clear on this machine only.
  const address = `127.0.0.1:${server.smtpPort}`;
  const listeners = page.locator('table.relay-listeners tbody tr');
  await expect(listeners).toHaveCount(1);
  const listener = page.locator(`table.relay-listeners tr[data-listener="${address}"]`);
  await expect(listener.getByRole('cell').nth(0)).toHaveText(address);
  await expect(listener.getByRole('cell').nth(1)).toHaveText('None');
  await expect(listener.getByRole('cell').nth(2)).toContainText('Offered without TLS');
  await expect(page.locator('#relay-no-certificate')).toBeVisible();
  await expect(page.locator('#relay-max-size')).toHaveText(/^\d+(\.\d)? (MiB|KiB|bytes)$/);

  // What a product enters, row by row.
  const settings = page.locator(`table.relay-settings[data-listener="${address}"]`);
  const value = (label: string) =>
    settings
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: label, exact: true }) })
      .getByRole('cell')
      .first();
  await expect(value('Host')).toHaveText('127.0.0.1');
  await expect(value('Port')).toHaveText(String(server.smtpPort));
  await expect(value('Security')).toHaveText('None');
  await expect(value('Username')).toHaveText("anything — the token's name is a good choice");
  await expect(value('Password')).toHaveText('an API token with the smtp:submit scope');
  await fitsTheScreen(page, '/relay');
  await test.info().attach(`relay-${test.info().project.name}.png`, {
    body: await page.screenshot({ fullPage: true }),
    contentType: 'image/png',
  });

  // All of it copies at once, as the product's settings page wants it.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  await page.getByRole('button', { name: 'Copy all settings' }).click();
  await expect(page.getByRole('button', { name: 'Copied all settings' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toContain(`Host: 127.0.0.1\nPort: ${server.smtpPort}\nSecurity: None\n`);
  expect(copied).toContain('Password: an API token with the smtp:submit scope');

  // In the navigation, right after the tokens.
  const menu = page.getByRole('button', { name: 'Menu' });
  if (await menu.isVisible()) await menu.click();
  const nav = page.getByRole('navigation', { name: 'Main' });
  const labels = (await nav.getByRole('link').allTextContents()).map((label) => label.trim());
  expect(labels.indexOf('Relay'), `navigation: ${labels.join(', ')}`).toBe(labels.indexOf('Tokens') + 1);
  await expect(nav.getByRole('link', { name: 'Relay', exact: true })).toHaveAttribute('aria-current', 'page');
  expect(consoleErrors).toEqual([]);
});

test('a token made for a product is shown once, then listed on the tokens page with smtp:submit and its tenant', async ({
  page,
  request,
  consoleErrors,
}) => {
  const tenant = await createTenant(request);

  await page.goto('/relay');
  await hydrated(page);
  const form = page.getByRole('group', { name: FORM });
  await expect(form).toContainText('smtp:submit');
  // One scope, written out: nothing to choose.
  await expect(form.getByRole('checkbox')).toHaveCount(0);
  const name = unique('Ticketing');
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Tenant').selectOption(tenant.id);
  await form.getByRole('button', { name: 'Create token' }).click();

  const once = page.locator('#created-token');
  const shown = once.getByLabel('Token', { exact: true });
  await expect(shown).toHaveValue(/^om_\S+$/);
  const token = await shown.inputValue();
  await expect(once).toContainText(`Created “${name}”.`);
  await expect(once).toContainText('the password is this token');
  await expect(form.getByLabel('Name', { exact: true })).toHaveValue('');

  // Shown once: after a reload the token is nowhere on the page.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('group', { name: FORM })).toBeVisible();
  await expect(page.locator('#created-token')).toHaveCount(0);
  expect(await page.content()).not.toContain(token);

  // The tokens page lists it with that one scope and its tenant, and offers the scope itself.
  await page.goto('/tokens');
  await hydrated(page);
  const row = page.getByRole('row').filter({ hasText: name });
  await expect(row).toHaveCount(1);
  // By position after the name: Scopes, Tenant, Prefix, …
  await expect(row.getByRole('cell').nth(0)).toHaveText('smtp:submit');
  await expect(row.getByRole('cell').nth(1)).toHaveText(tenant.id);
  expect(await page.content()).not.toContain(token);
  const scope = page.getByRole('checkbox', { name: 'smtp:submit', exact: true });
  await expect(scope).toHaveAccessibleDescription('submit mail over SMTP to the relay');
  const tenantChoice = page.getByLabel('Tenant', { exact: true });
  await expect(tenantChoice).toHaveValue('');
  await expect(tenantChoice.locator('option:checked')).toHaveText('Any tenant');
  await expect(tenantChoice.locator(`option[value="${tenant.id}"]`)).toHaveCount(1);

  // The API says the same.
  const tokens: { name: string; scopes: string[]; tenant?: string | null; prefix: string }[] = await (
    await request.get('/api/v1/tokens')
  ).json();
  const listed = tokens.find((t) => t.name === name);
  expect(listed).toMatchObject({ scopes: ['smtp:submit'], tenant: tenant.id });
  expect(token.startsWith(listed!.prefix)).toBe(true);
  expect(consoleErrors).toEqual([]);
});

test('a tenant that is gone by the time the token is made is an error under the tenant', async ({ page, request }) => {
  const tenant = await createTenant(request);
  await page.goto('/relay');
  await hydrated(page);
  const form = page.getByRole('group', { name: FORM });
  await form.getByLabel('Name', { exact: true }).fill(unique('Orphan'));
  await form.getByLabel('Tenant').selectOption(tenant.id);

  const deleted = await request.delete(`/api/v1/tenants/${tenant.id}`, { headers: { 'If-Match': `"${tenant.version}"` } });
  expect(deleted.status(), await deleted.text()).toBe(204);
  await form.getByRole('button', { name: 'Create token' }).click();

  await expect(page.locator('#token-tenant-error')).not.toBeEmpty();
  await expect(form.getByLabel('Tenant')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#created-token')).toHaveCount(0);
});

test('mail a product submits over SMTP is in the last submissions and in the delivery log with its source', async ({
  page,
  request,
  server,
  consoleErrors,
}) => {
  test.setTimeout(60_000);
  const peer = await SmtpPeer.start();
  try {
    const profile = await createSmtpProfile(request, unique('Relay onward'), peer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: profile });
    const tenant = await createTenant(request);
    const name = unique('Helpdesk');
    const created = await request.post('/api/v1/tokens', { data: { name, scopes: ['smtp:submit'], tenant: tenant.id } });
    expect(created.status(), await created.text()).toBe(201);
    const { token } = await created.json();

    const subject = unique('Ticket closed');
    const { clientPort } = await submitOverSmtp(
      server.smtpPort,
      { username: name, password: token },
      { from: 'alerts@example.com', to: 'customer@example.net', subject },
    );
    const client = `127.0.0.1:${clientPort}`;
    const [delivered] = await peer.received(subject);
    expect(delivered.rcpt_tos).toEqual(['customer@example.net']);

    // The API's view: the token's tenant, its name and the client's address.
    const relay = await (await request.get('/api/v1/relay')).json();
    const submitted = relay.recent.find((m: { subject: string }) => m.subject === subject);
    expect(submitted).toMatchObject({
      tenant: tenant.id,
      to: ['customer@example.net'],
      source: { channel: 'smtp', token: name, client },
    });
    expect(await settled(request, submitted.id)).toBe('sent');
    // One through the API as well, to tell the two apart in the log.
    const apiSubject = unique('Sent with the API');
    const viaApi = await sendMessage(request, { to: ['ops@example.net'], subject: apiSubject, text: 'x' });
    await settled(request, viaApi.id);

    await recordShifts(page);
    await page.goto('/relay');
    await hydrated(page);
    const row = page.locator(`table.relay-recent tr[data-message="${submitted.id}"]`);
    // By position: Time, Subject, Recipients, Status, Token, Client.
    const cells = row.getByRole('cell');
    await expect(cells.nth(1)).toHaveText(subject);
    await expect(cells.nth(2)).toHaveText('customer@example.net');
    await expect(cells.nth(3)).toHaveText('Sent');
    await expect(cells.nth(4)).toHaveText(name);
    await expect(cells.nth(5)).toHaveText(client);
    await expect(page.locator('table.relay-recent tbody tr').filter({ hasText: apiSubject })).toHaveCount(0);
    await fitsTheScreen(page, '/relay with a submission');

    const toLog = page.getByRole('link', { name: 'Every message, with its attempts and errors, is in the delivery log.' });
    await expect(toLog).toHaveAttribute('href', '/delivery');
    await toLog.click();
    await expect(page).toHaveURL(/\/delivery$/);
    await hydrated(page);
    const logged = page.locator(`tr[data-message="${submitted.id}"]`);
    await expect(logged).toContainText(tenant.id);
    await expect(logged.locator('.message-source')).toHaveText(`via SMTP · token “${name}” · from ${client}`);
    await expect(logged.locator('.message-source')).toHaveAttribute('data-channel', 'smtp');
    await expect(page.locator(`tr[data-message="${viaApi.id}"] .message-source`)).toHaveText('via API');

    // The source is a line inside the subject's cell: the log is exactly as wide without it,
    // and no wider than the screen.
    const widths = await page.evaluate(() => {
      const table = document.querySelector('table.log')!;
      const lines = Array.from(document.querySelectorAll<HTMLElement>('.message-source'));
      const withSource = table.getBoundingClientRect().width;
      for (const line of lines) line.style.display = 'none';
      const withoutSource = table.getBoundingClientRect().width;
      for (const line of lines) line.style.display = '';
      return { withSource, withoutSource, lines: lines.length };
    });
    expect(widths.lines).toBeGreaterThanOrEqual(2);
    expect(widths.withSource, 'the delivery log is no wider for the source').toBeCloseTo(widths.withoutSource, 0);
    await fitsTheScreen(page, '/delivery', { shifts: false });
    await test.info().attach(`delivery-log-sources-${test.info().project.name}.png`, {
      body: await page.screenshot({ fullPage: true }),
      contentType: 'image/png',
    });
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});

test('a viewer sees the relay and its settings but not the token form', async ({ pageAs, requestAs, server }) => {
  const page = await pageAs(viewer);
  const errors = consoleErrorsOf(page);
  await page.goto('/relay');
  await hydrated(page);
  await expect(page.getByText(READ_ONLY_NOTE)).toBeVisible();
  // The page is drawn once the session is known, so the form's absence is the final answer.
  await expect(page.locator(`table.relay-settings[data-listener="127.0.0.1:${server.smtpPort}"]`)).toBeVisible();
  await expect(page.getByRole('group', { name: FORM })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Create token' })).toHaveCount(0);
  expect(errors).toEqual([]);

  // The API refuses the viewer too, not just the page.
  const api = await requestAs(viewer);
  const refused = await api.post('/api/v1/tokens', { data: { name: unique('By a viewer'), scopes: ['smtp:submit'] } });
  expect(refused.status(), await refused.text()).toBe(403);
});
