// The profile editor against the aiosmtpd peer: validation as typed, a test before saving that
// blames the wrong password and then delivers, saving, the password asked again when the
// server changes, signature preview, and a concurrent edit shown and reapplied.
import { test, expect } from '../fixtures';
import { SmtpPeer, unique } from '../peers';

test('an SMTP profile with a password: checked as typed, tested before saving, saved', async ({
  page,
  request,
  consoleErrors,
}) => {
  const peer = await SmtpPeer.start(['--auth', 'PLAIN,LOGIN', '--user', 'relay', '--password', 's3cret', '--require-auth']);
  try {
    await page.goto('/profiles/new');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    const save = page.getByRole('button', { name: 'Save' });
    await expect(save).toBeDisabled();

    // A required field left empty says so once left, with the field marked.
    const name = page.getByRole('textbox', { name: 'Name', exact: true });
    await name.focus();
    await name.blur();
    await expect(name).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#f-name-error')).not.toBeEmpty();
    const profileName = unique('Relay with password');
    await name.fill(profileName);
    await expect(name).toHaveAttribute('aria-invalid', 'false');

    await page.getByRole('textbox', { name: 'Server', exact: true }).fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    const port = page.getByRole('spinbutton', { name: 'Port' });
    await port.fill('70000');
    await port.blur();
    await expect(page.locator('#f-transport-port-error')).not.toBeEmpty();
    await port.fill(String(peer.port));
    await expect(page.locator('#f-transport-port-error')).toBeEmpty();
    await page.getByRole('textbox', { name: 'User name', exact: true }).fill('relay');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-auth-password').fill('wrong');
    await page.getByRole('textbox', { name: 'From address' }).fill('"Billing" <billing@example.com>');
    await page.getByLabel('Signature').fill('The billing team');
    await expect(page.locator('figure.preview pre')).toContainText('-- \nThe billing team');
    await expect(save).toBeEnabled();

    // Test before saving: the wrong password is blamed on its field, with the remedy.
    await page.getByRole('button', { name: 'Send a test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a test' });
    // The test goes to the signed-in admin's own address unless another is typed.
    await expect(dialog.getByLabel('Recipient')).toHaveValue('admin@example.com');
    // Tab and Shift+Tab go round the dialog's controls, never to the page behind it.
    await dialog.getByLabel('Recipient').focus();
    for (let press = 0; press < 6; press++) {
      await page.keyboard.press('Tab');
      expect(await dialog.evaluate((element) => element.contains(document.activeElement))).toBe(true);
    }
    await dialog.getByLabel('Recipient').focus();
    await page.keyboard.press('Shift+Tab');
    expect(await dialog.evaluate((element) => element.contains(document.activeElement))).toBe(true);
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();
    const report = dialog.locator('.test-report');
    await expect(report).toHaveAttribute('data-outcome', 'failed');
    await expect(report.locator('.headline')).toContainText('Failed at auth');
    await expect(report.locator('.remedy')).toContainText('transport.auth.password');
    await expect(report.locator('li.stage.failed .stage-name')).toHaveText('auth');
    await report.getByText('Transcript (secrets redacted)').click();
    await expect(report.locator('.transcript')).toContainText('AUTH PLAIN [credentials redacted]');
    await expect(report.locator('.transcript')).not.toContainText('wrong');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(page.locator('.field.blamed')).toContainText('Password');
    expect(peer.messages()).toHaveLength(0);

    await page.locator('#f-transport-auth-password').fill('s3cret');
    await expect(page.locator('.field.blamed')).toHaveCount(0);
    await page.getByRole('button', { name: 'Send a test' }).click();
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    for (const stage of ['connect', 'greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data']) {
      await expect(report.locator('li.stage.ok .stage-name', { hasText: new RegExp(`^${stage}$`) })).toHaveCount(1);
    }
    const [tested] = peer.messages();
    expect(tested.rcpt_tos).toEqual(['admin@example.com']);
    expect(tested.data).toContain(`Subject: outmail test: ${profileName}`);
    // Quoted-printable: the signature separator's trailing space is =20.
    expect(tested.data).toContain('--=20\r\nThe billing team');
    await dialog.getByRole('button', { name: 'Close' }).click();

    // Save: the address becomes the profile's, the password is stored and never shown.
    await save.click();
    await expect(page).toHaveURL(/\/profiles\/[0-9a-f-]{36}$/);
    await expect(page.getByText('Saved.')).toBeVisible();
    const id = page.url().split('/').pop();
    const stored = await (await request.get(`/api/v1/profiles/${id}`)).json();
    expect(stored.profile.transport.auth.password).toEqual({ set: true });
    expect(stored.profile.signature).toBe('The billing team');
    await page.reload();
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator('#f-transport-auth-password-state')).toHaveText('Set');
    expect(await page.content()).not.toContain('s3cret');

    // Another server: the stored password may not follow it, so it is asked for again.
    const server = page.getByRole('textbox', { name: 'Server', exact: true });
    await server.fill('localhost');
    await expect(page.locator('#f-transport-auth-password-error')).not.toBeEmpty();
    await expect(save).toBeDisabled();
    await server.fill('127.0.0.1');
    await expect(page.locator('#f-transport-auth-password-error')).toBeEmpty();
    await expect(save).toBeDisabled(); // unchanged again
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});

test('a concurrent save is shown and can be reapplied', async ({ page, request, consoleErrors }) => {
  const created = await request.post('/api/v1/profiles', {
    data: {
      name: unique('Shared relay'),
      transport: { kind: 'smtp', host: '127.0.0.1', port: 2525, security: 'none', auth: { kind: 'none' } },
      sender: { address: 'alerts@example.com' },
    },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await page.goto(`/profiles/${id}`);
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByRole('textbox', { name: 'Server', exact: true })).toHaveValue('127.0.0.1');

  // Someone else changes the signature meanwhile.
  const current = await (await request.get(`/api/v1/profiles/${id}`)).json();
  const theirs = await request.put(`/api/v1/profiles/${id}`, {
    data: { ...current.profile, signature: 'Their signature' },
    headers: { 'If-Match': '"1"' },
  });
  expect(theirs.status(), await theirs.text()).toBe(200);

  await page.getByLabel('Reply-To').fill('helpdesk@example.com');
  await page.getByRole('button', { name: 'Save' }).click();
  const conflict = page.getByRole('alert').filter({ hasText: 'Someone saved this profile' });
  await expect(conflict).toContainText('version 2');
  await conflict.getByRole('button', { name: 'Save mine over theirs' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  const saved = await (await request.get(`/api/v1/profiles/${id}`)).json();
  expect(saved.version).toBe(3);
  expect(saved.profile.sender.reply_to).toBe('helpdesk@example.com');
  expect(consoleErrors.filter((e) => !e.includes('412'))).toEqual([]);
});

test('a test send shows each stage as it finishes, before the report', async ({ page, consoleErrors }) => {
  // The peer waits after the final dot, so the early stages are on screen while DATA runs.
  const peer = await SmtpPeer.start(['--data-delay', '2']);
  try {
    await page.goto('/profiles/new');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill(unique('Slow relay'));
    await page.getByRole('textbox', { name: 'Server', exact: true }).fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    await page.getByRole('spinbutton', { name: 'Port' }).fill(String(peer.port));
    await page.getByLabel('Sign in with').selectOption('none');
    await page.getByRole('textbox', { name: 'From address' }).fill('alerts@example.com');
    await page.getByRole('button', { name: 'Send a test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a test' });
    await dialog.getByLabel('Recipient').fill('ops@example.net');
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();

    const live = dialog.getByRole('list', { name: 'Stages so far' });
    await expect(live.locator('li.stage.ok .stage-name', { hasText: /^rcpt$/ })).toBeVisible();
    await expect(dialog.locator('.test-report')).toHaveCount(0);
    await expect(dialog.locator('.test-report')).toHaveAttribute('data-outcome', 'delivered');
    await expect(live).toHaveCount(0);
    expect(peer.messages()).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});

test('following a link with unsaved changes asks first', async ({ page, consoleErrors }) => {
  await page.goto('/profiles/new');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const back = page.locator('.breadcrumb a');

  // Nothing typed yet: the link just works.
  await back.click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto('/profiles/new');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const name = page.getByRole('textbox', { name: 'Name', exact: true });
  await name.fill('Half-typed relay');

  const questions: string[] = [];
  page.once('dialog', (dialog) => {
    questions.push(dialog.message());
    void dialog.dismiss();
  });
  await back.click();
  await expect(page).toHaveURL(/\/profiles\/new$/);
  await expect(name).toHaveValue('Half-typed relay');
  expect(questions).toEqual(['Your changes are not saved. Leave this page?']);

  page.once('dialog', (dialog) => void dialog.accept());
  await back.click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Profiles');
  expect(consoleErrors).toEqual([]);
});
