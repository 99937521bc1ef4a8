// Every page at desktop and phone width: nothing wider than the screen, no layout shift while
// the page hydrates and loads its data, and a screenshot of each attached to the report.
import { test, expect } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

test('pages fit the screen, do not shift, and are captured for the report', async ({ page, request, consoleErrors }) => {
  const peer = await SmtpPeer.start();
  try {
    const profile = await createSmtpProfile(request, unique('Screenshot relay with a long name'), peer.port);
    await setGlobalSettings(request, { sending_enabled: true, default_profile_id: profile });
    const sent = await sendMessage(request, {
      to: ['someone.with.a.long.address@example.net'],
      subject: unique('Weekly report for the operations team'),
      text: 'x',
    });
    await settled(request, sent.id);

    // Layout shifts are recorded from the first paint on, before any script of ours runs.
    await page.addInitScript(() => {
      (window as unknown as { shifts: number[] }).shifts = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          (window as unknown as { shifts: number[] }).shifts.push((entry as unknown as { value: number }).value);
        }
      }).observe({ type: 'layout-shift', buffered: true });
    });
    for (const [path, name, ready] of [
      ['/', 'profiles', 'table.profiles'],
      ['/delivery', 'delivery-log', 'table.log'],
      ['/settings', 'settings', 'form.form'],
      ['/tenants', 'tenants', 'h1'],
    ]) {
      await page.goto(path);
      await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
      await expect(page.locator(ready)).toBeVisible();
      const { scrollWidth, innerWidth, shifts } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        shifts: (window as unknown as { shifts: number[] }).shifts,
      }));
      expect(scrollWidth, `${path} is no wider than the screen`).toBeLessThanOrEqual(innerWidth);
      const shift = shifts.reduce((sum, value) => sum + value, 0);
      expect(shift, `${path} cumulative layout shift`).toBeLessThan(0.05);
      await test.info().attach(`${name}-${test.info().project.name}.png`, {
        body: await page.screenshot({ fullPage: true }),
        contentType: 'image/png',
      });
    }
    expect(consoleErrors).toEqual([]);
  } finally {
    peer.stop();
  }
});
