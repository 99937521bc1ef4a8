// Access control: signing in and out, the CSRF rule for writes, the security headers, the
// viewer's read-only view, API tokens with their scopes, and the audit log with its export.
import type { Page } from '@playwright/test';
import { test, expect, admin, viewer, consoleErrorsOf, signedOut } from '../fixtures';
import { SmtpPeer, createSmtpProfile, setGlobalSettings, unique } from '../peers';

const READ_ONLY_NOTE = 'Read only: you are signed in as a viewer.';

async function hydrated(page: Page) {
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
}

/** A profile body the server accepts, for requests whose answer must not depend on validation. */
const validProfile = () => ({
  name: unique('CSRF probe'),
  transport: { kind: 'smtp', host: '127.0.0.1', port: 2525, security: 'none', auth: { kind: 'none' } },
  sender: { address: 'alerts@example.com' },
});

test.describe('signed out', () => {
  test.use({ storageState: signedOut });

  test('a page asks to sign in first, then comes back; signing out ends the session', async ({ page, consoleErrors }) => {
    await page.goto('/settings');
    await expect(page).toHaveURL(/\/login\?next=%2Fsettings$/);
    await hydrated(page);

    const email = page.getByLabel('Email', { exact: true });
    const password = page.getByLabel('Password', { exact: true });
    await email.fill(admin.email);
    await password.fill('not the admin password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText(/the email or the password is wrong/i);
    await expect(page).toHaveURL(/\/login\?next=%2Fsettings$/);

    await password.fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/settings$/);
    await hydrated(page);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Settings');
    await expect(page.getByRole('banner')).toContainText(`${admin.email} (admin)`);

    await page.getByRole('banner').getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/login(\?|$)/);
    await page.goto('/');
    await expect(page).toHaveURL(/\/login(\?next=%2F)?$/);
    // The refused sign-in is a 401, which Chromium logs as a failed resource.
    expect(consoleErrors.filter((e) => !e.includes('401'))).toEqual([]);
  });
});

test('a write signed in by cookie needs the server’s own origin', async ({ requestAs, server }) => {
  const bare = await requestAs(admin, {});
  const refused = await bare.post('/api/v1/profiles', { data: validProfile() });
  expect(refused.status(), await refused.text()).toBe(403);
  expect((await refused.json()).code).toBe('csrf');

  const foreignHeaders: Record<string, string>[] = [{ Origin: 'http://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }];
  for (const headers of foreignHeaders) {
    const foreign = await bare.post('/api/v1/profiles', { data: validProfile(), headers });
    expect(foreign.status(), `${JSON.stringify(headers)}: ${await foreign.text()}`).toBe(403);
    expect((await foreign.json()).code).toBe('csrf');
  }

  // The same cookie with the server's own origin is accepted: the refusals were about CSRF.
  const allowed = await bare.post('/api/v1/profiles', { data: validProfile(), headers: { Origin: server.url } });
  expect(allowed.status(), await allowed.text()).toBe(201);
});

test('pages carry the security headers and run under the policy', async ({ page, request, consoleErrors }) => {
  // At least one profile, so the page draws its table whatever ran before on this server.
  const name = unique('Policy relay');
  const created = await request.post('/api/v1/profiles', { data: { ...validProfile(), name } });
  expect(created.status(), await created.text()).toBe(201);
  const response = await request.get('/');
  expect(response.status()).toBe(200);
  const headers = response.headers();
  const policy = headers['content-security-policy'] ?? '';
  // A nonce for the inline hydration script may follow the script sources.
  expect(policy).toMatch(/(^|;)\s*script-src 'self' 'wasm-unsafe-eval'( 'nonce-[A-Za-z0-9+/=_-]+')?\s*(;|$)/);
  expect(policy).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBeTruthy();

  // The browser enforces that policy: the page still hydrates, and a violation would fail the
  // test through the cspViolations fixture.
  await page.goto('/');
  await hydrated(page);
  await expect(page.locator('table.profiles')).toContainText(name);
  expect(consoleErrors).toEqual([]);
});

test('a session that ends while a page is open leads to sign in and back', async ({ pageAs, server }) => {
  const page = await pageAs(admin);
  await page.goto('/delivery?status=failed');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  // Signed out elsewhere (another tab, or the idle timeout): the server forgets the session.
  const out = await page.request.delete('/api/v1/session', { headers: { Origin: server.url } });
  expect(out.status()).toBe(204);
  // The next request of the page is refused, and the browser goes to sign in, then back.
  await page.getByLabel('Status').selectOption('sent');
  await expect(page).toHaveURL(/\/login\?next=%2Fdelivery%3Fstatus%3Dsent/);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/delivery\?status=sent$/);
  await expect(page.getByRole('banner')).toContainText('admin@example.com (admin)');
});

test('a viewer sees profiles read-only and may not change them', async ({ request, pageAs, requestAs }) => {
  const name = unique('Viewed relay');
  const id = await createSmtpProfile(request, name, 2525);

  const page = await pageAs(viewer);
  const errors = consoleErrorsOf(page);
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByText(READ_ONLY_NOTE)).toBeVisible();
  await expect(page.getByRole('banner')).toContainText(`${viewer.email} (viewer)`);

  await page.goto(`/profiles/${id}`);
  await hydrated(page);
  await expect(page.getByText(READ_ONLY_NOTE)).toBeVisible();
  const nameField = page.getByRole('textbox', { name: 'Name', exact: true });
  await expect(nameField).toHaveValue(name);
  // Changed, so Save is off because of the role and not because there is nothing to save.
  await nameField.fill(`${name} renamed`);
  await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Send a test' })).toBeDisabled();
  expect(errors).toEqual([]);

  // The API holds the line too, not just the buttons.
  const api = await requestAs(viewer);
  const current = await api.get(`/api/v1/profiles/${id}`);
  expect(current.status(), 'a viewer reads profiles').toBe(200);
  const { profile } = await current.json();
  const put = await api.put(`/api/v1/profiles/${id}`, {
    data: { ...profile, name: `${name} renamed` },
    headers: { 'If-Match': current.headers()['etag'] },
  });
  expect(put.status(), await put.text()).toBe(403);
  expect((await put.json()).code).toBe('forbidden');
  expect((await (await request.get(`/api/v1/profiles/${id}`)).json()).profile.name).toBe(name);
});

test('an API token sends mail within its scope, is shown once, and stops working once revoked', async ({
  page,
  request,
  requestAs,
  consoleErrors,
}) => {
  const peer = await SmtpPeer.start();
  try {
    const profile = await createSmtpProfile(request, unique('Token relay'), peer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: profile });

    await page.goto('/tokens');
    await hydrated(page);
    const name = unique('billing');
    await page.getByLabel('Name', { exact: true }).fill(name);
    const send = page.getByRole('checkbox', { name: 'messages:send', exact: true });
    await expect(send).toHaveAccessibleDescription('queue messages and support requests');
    await send.check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.locator('#created-token').getByLabel('Token', { exact: true });
    await expect(shown).toHaveValue(/^om_\S+$/);
    const token = await shown.inputValue();

    // What a product does: no cookie, no Origin, just the token.
    const product = await requestAs(null, { Authorization: `Bearer ${token}` });
    const subject = unique('Invoice by token');
    const message = () => ({ to: ['billing@example.net'], subject, text: 'Your invoice is ready.' });
    const sent = await product.post('/api/v1/messages', { data: message() });
    expect(sent.status(), await sent.text()).toBe(202);
    const [delivered] = await peer.received(subject);
    expect(delivered.rcpt_tos).toEqual(['billing@example.net']);
    const outOfScope = await product.get('/api/v1/profiles');
    expect(outOfScope.status(), await outOfScope.text()).toBe(403);

    // Shown once: after a reload the list names the token but no longer holds it.
    await page.reload();
    await hydrated(page);
    const row = page.getByRole('row').filter({ hasText: name });
    await expect(row).toHaveCount(1);
    await expect(page.locator('#created-token')).toHaveCount(0);
    expect(await page.content()).not.toContain(token);

    await row.getByRole('button', { name: `Revoke “${name}”` }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Revoke this token?' });
    await expect(dialog).toBeVisible();
    await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
    await expect(page.getByText(`Revoked “${name}”.`)).toBeVisible();
    await expect(row).toHaveCount(0);
    const revoked = await product.post('/api/v1/messages', { data: message() });
    expect(revoked.status(), await revoked.text()).toBe(401);

    await page.reload();
    await hydrated(page);
    await expect(row).toHaveCount(0);
    expect(await page.content()).not.toContain(token);
    expect(peer.messages()).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});

test('a change is in the audit log and its export, without any secret', async ({ page, request, consoleErrors }) => {
  // A password no other test uses, to look for in everything the audit log shows.
  const canary = `canary-${unique('pw').replace(/\W/g, '')}`;
  const name = unique('Audited relay');
  const id = await createSmtpProfile(request, name, 2525, {
    transport: {
      kind: 'smtp',
      host: '127.0.0.1',
      port: 2525,
      security: 'none',
      auth: { kind: 'basic', username: 'relay', password: { value: canary } },
    },
  });

  await page.goto(`/profiles/${id}`);
  await hydrated(page);
  const nameField = page.getByRole('textbox', { name: 'Name', exact: true });
  await expect(nameField).toHaveValue(name);
  await nameField.fill(unique('Renamed relay'));
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();

  await page.goto('/audit');
  await hydrated(page);
  for (const column of ['Time', 'Actor', 'Action', 'Target', 'Fields', 'Outcome']) {
    await expect(page.getByRole('columnheader', { name: column, exact: true })).toBeVisible();
  }
  // Newest first, and tests on one server run one at a time: the first profile.update is ours.
  const row = page.getByRole('row').filter({ hasText: 'profile.update' }).first();
  // By position: Time, Actor, Action, Target, Fields, Outcome.
  const cells = row.getByRole('cell');
  await expect(cells.nth(1)).toHaveText(admin.email);
  await expect(cells.nth(2)).toHaveText('profile.update');
  await expect(cells.nth(3)).toHaveText(`profiles/${id}`);
  expect((await cells.nth(4).innerText()).split(', ')).toContain('name');
  expect(await page.content()).not.toContain(canary);

  const exportLink = page.getByRole('link', { name: 'Export JSON' });
  await expect(exportLink).toHaveAttribute('href', '/api/v1/audit/export');
  const exported = await request.get('/api/v1/audit/export');
  expect(exported.status()).toBe(200);
  expect(exported.headers()['content-disposition']).toContain('outmail-audit.json');
  const text = await exported.text();
  const events = JSON.parse(text);
  expect(Array.isArray(events)).toBe(true);
  expect(events).toContainEqual(
    expect.objectContaining({
      actor: admin.email,
      action: 'profile.update',
      target: `profiles/${id}`,
      fields: expect.arrayContaining(['name']),
    }),
  );
  // Field names only, never values: not the profile's password, nor any account's.
  for (const secret of [canary, admin.password, viewer.password]) {
    expect(text, 'the export holds no secret').not.toContain(secret);
  }
  expect(consoleErrors).toEqual([]);
});
