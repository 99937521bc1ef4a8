// Tenants: a tenant on the global profile inherits it (and its mail goes there), one with its
// own profile overrides it, and with sending switched off nothing goes anywhere.
import { test, expect } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

test('a tenant inherits the global profile, then overrides it, and honours the master switch', async ({
  page,
  request,
  consoleErrors,
}) => {
  const globalPeer = await SmtpPeer.start();
  const ownPeer = await SmtpPeer.start();
  try {
    const globalName = unique('Global relay');
    const global = await createSmtpProfile(request, globalName, globalPeer.port);
    const ownName = unique('Tenant relay');
    await createSmtpProfile(request, ownName, ownPeer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: global });
    const tenant = unique('acme').replace(/[^a-z0-9]/g, '');

    await page.goto('/tenants');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await page.getByLabel('Tenant ID').fill(tenant);
    await page.getByLabel('Name', { exact: true }).fill('ACME Corp');
    await page.getByRole('button', { name: 'Add tenant' }).click();
    await expect(page.getByText('Added “ACME Corp”.')).toBeVisible();
    const card = page.locator(`[data-tenant="${tenant}"]`);
    await expect(card.locator('dd[data-source="global"]').first()).toContainText(globalName);
    await expect(card.locator('dd[data-source="global"]').first()).toContainText('inherited from the global settings');

    const first = unique('Through the global profile');
    await settled(request, (await sendMessage(request, { tenant, to: ['ops@example.net'], subject: first, text: 'x' })).id);
    await globalPeer.received(first);

    // Its own profile overrides the global one.
    await card.getByLabel('Sends through').selectOption({ label: `Its own: ${ownName}` });
    await expect(page.getByText('Saved “ACME Corp”.')).toBeVisible();
    await expect(card.locator('dd[data-source="tenant"]')).toContainText(ownName);
    const second = unique('Through its own profile');
    await settled(request, (await sendMessage(request, { tenant, to: ['ops@example.net'], subject: second, text: 'x' })).id);
    await ownPeer.received(second);
    expect(globalPeer.messages().filter((m) => m.data.includes(second))).toHaveLength(0);

    // Switched off: the page says why, and the API stores nothing.
    await setGlobalSettings(request, { sending_enabled: false });
    await page.reload();
    await expect(card).toContainText('sending is switched off');
    const refused = await request.post('/api/v1/messages', { data: { tenant, to: ['ops@example.net'], subject: 'Off', text: 'x' } });
    expect(refused.status()).toBe(409);
    await setGlobalSettings(request, { sending_enabled: true });

    await card.getByRole('button', { name: 'Delete tenant “ACME Corp”' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByText('Deleted “ACME Corp”.')).toBeVisible();
    await expect(card).toHaveCount(0);
    expect(consoleErrors).toEqual([]);
  } finally {
    await setGlobalSettings(request, { sending_enabled: true });
    globalPeer.stop();
    ownPeer.stop();
  }
});
