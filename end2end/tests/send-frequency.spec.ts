// Send frequency chosen in the editor: the same alert to the same recipient within the window
// reaches the peer once; the second is logged as suppressed, and another subject still goes.
import { test, expect } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

test('the same alert within the send frequency reaches the peer once', async ({ page, request, consoleErrors }) => {
  const peer = await SmtpPeer.start([]);
  try {
    const name = unique('Alert relay');
    const profile = await createSmtpProfile(request, name, peer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: profile });

    await page.goto(`/profiles/${profile}`);
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    const frequency = page.getByLabel('Send frequency (seconds)');
    await expect(frequency).toHaveValue('0');
    await frequency.fill('600');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByText('Saved.')).toBeVisible();
    const saved = await (await request.get(`/api/v1/profiles/${profile}`)).json();
    expect(saved.profile.send_frequency).toBe(600);

    const subject = unique('Disk almost full');
    const alert = { to: ['oncall@example.net'], subject, text: 'Volume /var is at 95%.' };
    const first = await sendMessage(request, alert);
    expect(await settled(request, first.id)).toBe('sent');
    await peer.received(subject);
    const second = await sendMessage(request, alert);
    expect(await settled(request, second.id)).toBe('suppressed');
    const other = unique('Backup finished');
    const third = await sendMessage(request, { ...alert, subject: other });
    expect(await settled(request, third.id)).toBe('sent');
    await peer.received(other);
    expect(peer.messages().filter((m) => m.data.includes(`Subject: ${subject}`))).toHaveLength(1);

    await page.goto('/delivery?status=suppressed');
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.locator(`tr[data-message="${second.id}"]`)).toContainText('Suppressed');
    await expect(page.locator(`tr[data-message="${first.id}"]`)).toHaveCount(0);
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});
