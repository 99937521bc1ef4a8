// The first start: a server without any account prints a one-time setup address; opening it
// creates the first admin, who is then signed in. The token works once.
import { test, expect, startServer, stopServer, consoleErrorsOf } from '../fixtures';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('the setup address creates the first admin once', async ({ browser }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'outmail-setup-'));
  const { child, url, output } = await startServer(dataDir);
  try {
    await expect.poll(() => /open (http:\S+\/setup#token=\S+)/.exec(output())?.[1]).toBeTruthy();
    const setupUrl = /open (http:\S+\/setup#token=\S+)/.exec(output())![1];
    const token = setupUrl.split('#token=')[1];

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = consoleErrorsOf(page);
    await page.goto(setupUrl);
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    // The token comes from the address's fragment, which never reaches the server.
    await expect(page.getByLabel('Setup token')).toHaveValue(token);

    await page.getByLabel('Email').fill('first@example.com');
    await page.getByLabel('Password', { exact: true }).fill('too short');
    await page.getByLabel('Password', { exact: true }).blur();
    await expect(page.locator('#setup-password-error')).toContainText('at least 12 characters');
    await page.getByLabel('Password', { exact: true }).fill('first admin password');
    await page.getByLabel('Repeat password').fill('first admin passw0rd');
    await page.getByLabel('Repeat password').blur();
    await expect(page.locator('#setup-repeat-error')).toContainText('not the same');
    await page.getByLabel('Repeat password').fill('first admin password');
    await page.getByRole('button', { name: 'Create admin' }).click();
    await expect(page).toHaveURL(`${url}/`);
    await expect(page.getByRole('banner')).toContainText('first@example.com (admin)');

    // The token is spent: a second try is told to sign in instead.
    const other = await browser.newContext();
    const second = await other.newPage();
    await second.goto(setupUrl);
    await expect(second.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await second.getByLabel('Email').fill('second@example.com');
    await second.getByLabel('Password', { exact: true }).fill('second admin password');
    await second.getByLabel('Repeat password').fill('second admin password');
    await second.getByRole('button', { name: 'Create admin' }).click();
    await expect(second.locator('#setup-problem')).toContainText('an admin exists already');
    await expect(second.locator('#setup-problem').getByRole('link', { name: 'Sign in' })).toBeVisible();
    expect(errors).toEqual([]);
    await context.close();
    await other.close();
  } finally {
    expect(await stopServer(child)).toBe(0);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
