// Delivery options set in the editor and proven by sending: a SOCKS5 proxy in front of the
// server, an alternate server taking over, and "send as the acting user".
import { test, expect } from '../fixtures';
import type { Page } from '@playwright/test';
import { SmtpPeer, closedPort, createSmtpProfile, sendMessage, setGlobalSettings, settled, startSocksProxy, unique } from '../peers';

const textbox = (page: Page, name: string) => page.getByRole('textbox', { name, exact: true });

async function plainSmtpProfile(page: Page, name: string, port: number) {
  await page.goto('/profiles/new');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await textbox(page, 'Name').fill(name);
  await textbox(page, 'Server').fill('127.0.0.1');
  await page.getByLabel('Security').selectOption('none');
  await page.getByRole('spinbutton', { name: 'Port' }).fill(String(port));
  await page.getByLabel('Sign in with').selectOption('none');
  await textbox(page, 'From address').fill('"Alerts" <alerts@example.com>');
}

test('a SOCKS5 proxy carries the session; a dead proxy is blamed on its port', async ({ page, consoleErrors }) => {
  const peer = await SmtpPeer.start();
  const proxy = await startSocksProxy();
  try {
    await plainSmtpProfile(page, unique('Behind a proxy'), peer.port);
    await page.getByLabel('Proxy', { exact: true }).selectOption('socks5');
    await textbox(page, 'Proxy host').fill('127.0.0.1');
    await page.getByRole('spinbutton', { name: 'Proxy port' }).fill(String(proxy.port));

    await page.getByRole('button', { name: 'Send a test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a test' });
    await dialog.getByLabel('Recipient').fill('ops@example.net');
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();
    const report = dialog.locator('.test-report');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    await expect(report.locator('li.stage .stage-detail').first()).toBeVisible();
    expect(peer.messages()).toHaveLength(1);

    proxy.stop();
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(report).toHaveAttribute('data-outcome', 'failed');
    await expect(report.locator('.remedy')).toContainText('proxy');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await expect(page.locator('.field.blamed')).toContainText('Proxy');
    expect(peer.messages()).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  } finally {
    proxy.stop();
    peer.stop();
  }
});

test('the alternate chosen in the editor takes over, and the acting user is the sender', async ({ page, request, consoleErrors }) => {
  const alternatePeer = await SmtpPeer.start();
  try {
    const alternateName = unique('Standby relay');
    const alternate = await createSmtpProfile(request, alternateName, alternatePeer.port);
    const primaryName = unique('Primary relay');
    await plainSmtpProfile(page, primaryName, await closedPort());
    await page.getByLabel('Send as the acting user').check();
    await page.getByLabel('Alternate server').selectOption(alternate);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByText('Saved.')).toBeVisible();
    const primary = page.url().split('/').pop()!;
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: primary });

    const subject = unique('Shared with you');
    const sent = await sendMessage(request, { to: ['colleague@example.net'], subject, text: 'A document was shared.', on_behalf_of: '"Erika Muster" <erika@example.com>' });
    expect(await settled(request, sent.id)).toBe('sent');
    const [delivered] = await alternatePeer.received(subject);
    expect(delivered.mail_from).toBe('erika@example.com');
    expect(delivered.data).toMatch(/^From: "Erika Muster" <erika@example.com>\r\n/m);

    await page.goto('/');
    await expect(page.locator(`[data-failover="${primary}"]`)).toContainText(`sends through its alternate “${alternateName}”`);
    expect(consoleErrors).toEqual([]);
  } finally {
    alternatePeer.stop();
  }
});
