// Every page at desktop and phone width: nothing wider than the screen, no layout shift while
// the page hydrates and loads its data, and a screenshot of each attached to the report.
import type { Page } from '@playwright/test';
import { test, expect, consoleErrorsOf } from '../fixtures';
import { SmtpPeer, createSmtpProfile, sendMessage, setGlobalSettings, settled, unique } from '../peers';

/** Records layout shifts from the first paint of every page `page` loads, before any script of
 * ours runs. Once per page: each init script would record every shift again. */
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

/** Opens `path`, waits for `ready`, checks the width and the layout shift, attaches a screenshot. */
async function checkPage(page: Page, path: string, name: string, ready: string) {
  await page.goto(path);
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.locator(ready).first()).toBeVisible();
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

test('pages fit the screen, do not shift, and are captured for the report', async ({ page, pageAs, request, consoleErrors }) => {
  // Seven pages with a full-page screenshot each, on two cores shared with the server.
  test.setTimeout(60_000);
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

    // A token, so the tokens page shows its list rather than an empty state.
    const token = await request.post('/api/v1/tokens', { data: { name: unique('Billing service'), scopes: ['messages:send'] } });
    expect(token.status(), await token.text()).toBe(201);

    await recordShifts(page);
    for (const [path, name, ready] of [
      ['/', 'profiles', 'table.profiles'],
      ['/delivery', 'delivery-log', 'table.log'],
      ['/settings', 'settings', 'form.form'],
      ['/tenants', 'tenants', 'h1'],
      ['/tokens', 'tokens', 'table'],
      ['/audit', 'audit', 'table'],
      ['/relay', 'relay', 'table.relay-settings'],
    ]) {
      await checkPage(page, path, name, ready);
    }
    expect(consoleErrors).toEqual([]);

    // The sign-in page, as someone without a session sees it.
    const signedOutPage = await pageAs(null);
    const signedOutErrors = consoleErrorsOf(signedOutPage);
    await recordShifts(signedOutPage);
    await checkPage(signedOutPage, '/login', 'login', 'form');
    // A page that asks whether someone is signed in is told 401, which Chromium logs.
    expect(signedOutErrors.filter((e) => !e.includes('401'))).toEqual([]);
  } finally {
    peer.stop();
  }
});
