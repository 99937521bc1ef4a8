// The profiles list: filter, duplicate, delete after confirming, and the failover banner with
// Reset, driven by a real failover (a primary whose port refuses connections, an aiosmtpd
// peer as its alternate).
import { test, expect } from '../fixtures';
import { SmtpPeer, closedPort, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

test('filter, duplicate and delete with a confirmation', async ({ page, request, consoleErrors }) => {
  const family = unique('Branch');
  await createSmtpProfile(request, `${family} north`, 2525);
  await createSmtpProfile(request, `${family} south`, 2526);

  await page.goto('/');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Name', { exact: true }).fill(family);
  await page.getByLabel('Name', { exact: true }).press('Enter');
  await expect(page).toHaveURL(/\?name=/);
  const rows = page.locator('table.profiles tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText('SMTP');
  await expect(rows.first()).toContainText('127.0.0.1:2525 (none)');
  await expect(rows.first()).toContainText('Primary');

  await page.getByRole('button', { name: `Duplicate “${family} north”` }).click();
  await expect(page.getByText(`Created “Copy of ${family} north”.`)).toBeVisible();
  // The copy's name does not start with the family name, so the filter still shows two.
  await page.getByLabel('Name', { exact: true }).fill(`Copy of ${family}`);
  await page.getByLabel('Name', { exact: true }).press('Enter');
  await expect(rows).toHaveCount(1);

  // Delete asks first; Cancel (focused, and Escape) keeps the profile.
  await page.getByRole('button', { name: `Delete “Copy of ${family} north”` }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Delete this profile?' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  // Focus stays in the dialog: Tab from the last button comes back to the first.
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: 'Delete' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(dialog.getByRole('button', { name: 'Delete' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(rows).toHaveCount(1);
  await page.getByRole('button', { name: `Delete “Copy of ${family} north”` }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText(`Deleted “Copy of ${family} north”.`)).toBeVisible();
  await expect(page.getByText('No profiles match.')).toBeVisible();
  const left = await (await request.get(`/api/v1/profiles?name=${encodeURIComponent(family)}`)).json();
  expect(left.items.map((p: { name: string }) => p.name).sort()).toEqual([`${family} north`, `${family} south`]);
  expect(consoleErrors).toEqual([]);
});

test('a failed-over profile shows a banner until Reset', async ({ page, request, consoleErrors }) => {
  const peer = await SmtpPeer.start();
  try {
    const alternateName = unique('Backup relay');
    const alternate = await createSmtpProfile(request, alternateName, peer.port);
    const primaryName = unique('Main relay');
    const primary = await createSmtpProfile(request, primaryName, await closedPort(), {
      alternate_profile_id: alternate,
    });
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: primary });
    const subject = unique('Password reset');
    const sent = await sendMessage(request, { to: ['user@example.net'], subject, text: 'Your code: 123456' });
    expect(await settled(request, sent.id)).toBe('sent');
    const [delivered] = await peer.received(subject);
    expect(delivered.rcpt_tos).toEqual(['user@example.net']);

    await page.goto('/');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    const banner = page.locator(`[data-failover="${primary}"]`);
    await expect(banner).toContainText(`“${primaryName}” sends through its alternate “${alternateName}”`);
    await expect(banner).toContainText('connection_refused');
    await page.getByLabel('Name', { exact: true }).fill(primaryName);
    await page.getByLabel('Name', { exact: true }).press('Enter');
    await expect(page.locator(`tr[data-profile="${primary}"]`)).toContainText('On alternate');

    await banner.getByRole('button', { name: `Reset “${primaryName}” to its own server` }).click();
    await expect(page.getByText('Reset: the profile sends through its own server again.')).toBeVisible();
    await expect(banner).toHaveCount(0);
    await expect(page.locator(`tr[data-profile="${primary}"]`)).toContainText('Primary');
    const state = await (await request.get(`/api/v1/profiles/${primary}/failover`)).json();
    expect(state.active).toBe(false);
    expect(state.history.map((e: { kind: string }) => e.kind)).toEqual(['reset', 'failed_over']);
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});
