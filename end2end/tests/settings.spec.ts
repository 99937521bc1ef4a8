// Global settings: validation as typed with the shared rules, save with the version, a
// concurrent change shown and reapplied, and the master switch honoured by the sending API.
import { test, expect } from '../fixtures';
import { createSmtpProfile, unique } from '../peers';

test('the support address is checked as typed and saved with the version', async ({ page, request, consoleErrors }) => {
  const profileName = unique('Settings relay');
  const profile = await createSmtpProfile(request, profileName, 2525);
  await page.goto('/settings');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const address = page.getByLabel('Support address', { exact: true });
  const save = page.getByRole('button', { name: 'Save' });
  await expect(save).toBeDisabled();

  await address.fill('help desk at example');
  await address.blur();
  await expect(address).toHaveAttribute('aria-invalid', 'true');
  const error = page.locator('#support-address-error');
  await expect(error).not.toBeEmpty();
  await expect(save).toBeDisabled();

  await address.fill('"Help desk" <help@example.com>');
  await expect(address).toHaveAttribute('aria-invalid', 'false');
  await expect(error).toBeEmpty();
  await page.getByLabel('Default profile').selectOption(profile);
  await page.getByLabel('Attach system information').uncheck();
  await expect(save).toBeEnabled();
  await save.click();
  await expect(page.getByText('Saved.')).toBeVisible();
  await expect(save).toBeDisabled();
  const stored = await (await request.get('/api/v1/settings')).json();
  expect(stored.settings).toMatchObject({
    support_address: '"Help desk" <help@example.com>',
    default_profile_id: profile,
    attach_system_info: false,
  });

  // Someone else saves meanwhile: the save is refused, their version shown, ours reapplied.
  const current = await request.get('/api/v1/settings');
  const theirs = { ...stored.settings, support_address: 'other@example.com' };
  const put = await request.put('/api/v1/settings', { data: theirs, headers: { 'If-Match': current.headers()['etag'] } });
  expect(put.status()).toBe(200);
  await address.fill('mine@example.com');
  await save.click();
  const conflict = page.getByRole('alert').filter({ hasText: 'Someone saved these settings' });
  await expect(conflict).toContainText('support address other@example.com');
  await conflict.getByRole('button', { name: 'Save mine over theirs' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  expect((await (await request.get('/api/v1/settings')).json()).settings.support_address).toBe('mine@example.com');
  expect(consoleErrors.filter((e) => !e.includes('412'))).toEqual([]);
});

test('switching sending off makes the sending API answer 409', async ({ page, request }) => {
  await page.goto('/settings');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const toggle = page.getByLabel('Send mail');
  await expect(toggle).toBeChecked();
  await toggle.uncheck();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  const refused = await request.post('/api/v1/messages', {
    data: { to: ['ops@example.net'], subject: 'Off', text: 'x' },
  });
  expect(refused.status()).toBe(409);
  await toggle.check();
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
});
