// The delivery log page against a real SMTP peer: what the product sent shows with its status,
// server and error; filters live in the address; Resend delivers the message again.
import { test, expect } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

test('the log shows sent and failed messages, filters them, and resends to the peer', async ({
  page,
  request,
  consoleErrors,
}) => {
  const peer = await SmtpPeer.start(['--reject-rcpt-domain', 'refused.example']);
  try {
    const profile = await createSmtpProfile(request, unique('Log relay'), peer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: profile });
    const tenant = unique('t').replace(/[^a-z0-9]/g, '');
    const created = await request.post('/api/v1/tenants', {
      data: { id: tenant, name: 'Log tenant', profile: { kind: 'use_global' } },
    });
    expect(created.status(), await created.text()).toBe(201);

    const subject = unique('Invoice ready');
    const sent = await sendMessage(request, { tenant, to: ['billing@example.net'], subject, text: 'Your invoice.' });
    expect(await settled(request, sent.id)).toBe('sent');
    await peer.received(subject);
    const refusedSubject = unique('Refused alert');
    const refused = await sendMessage(request, { to: ['ops@refused.example'], subject: refusedSubject, text: 'x' });
    expect(await settled(request, refused.id)).toBe('failed');

    await page.goto('/delivery');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    const sentRow = page.locator(`tr[data-message="${sent.id}"]`);
    await expect(sentRow).toContainText('Sent');
    await expect(sentRow).toContainText(subject);
    await expect(sentRow).toContainText('billing@example.net');
    await expect(sentRow).toContainText(tenant);
    await expect(sentRow).toContainText(`127.0.0.1:${peer.port}`);
    const refusedRow = page.locator(`tr[data-message="${refused.id}"]`);
    await expect(refusedRow).toContainText('Failed');
    await expect(refusedRow).toContainText('relay_denied');

    // Filters are in the address and survive a reload.
    await page.getByLabel('Status').selectOption('failed');
    await expect(page).toHaveURL(/\/delivery\?status=failed$/);
    await expect(refusedRow).toBeVisible();
    await expect(sentRow).toHaveCount(0);
    await page.reload();
    await expect(page.getByLabel('Status')).toHaveValue('failed');
    await expect(refusedRow).toBeVisible();
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Tenant').fill(tenant);
    await page.getByLabel('Tenant').press('Enter');
    await expect(page).toHaveURL(new RegExp(`/delivery\\?tenant=${tenant}$`));
    await expect(sentRow).toBeVisible();
    await expect(refusedRow).toHaveCount(0);

    // Resend: a new message, delivered to the peer a second time.
    await sentRow.getByRole('button', { name: `Resend “${subject}”` }).click();
    await expect(page.getByText(/Queued again as message/)).toBeVisible();
    const copies = await peer.received(subject, 2);
    const messageIds = copies.map((m) => /\r\nMessage-ID: (\S+)\r\n/i.exec(m.data)?.[1]);
    expect(new Set(messageIds).size, 'a resent message has its own Message-ID').toBe(2);
    await expect(page.locator('tbody tr').filter({ hasText: subject })).toHaveCount(2);
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});

test('a bad status filter from the API is a 422 naming the field', async ({ request }) => {
  const response = await request.get('/api/v1/messages?status=delivered');
  expect(response.status()).toBe(422);
  expect((await response.json()).fields).toHaveProperty('status');
});
