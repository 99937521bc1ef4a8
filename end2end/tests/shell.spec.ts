// The application shell: server-rendered, hydrated, navigable, with the health endpoint.
import { test, expect } from '../fixtures';

test('the page is server-rendered with the title and the navigation', async ({ request }) => {
  // Without a browser: the HTML itself must already carry the content.
  const response = await request.get('/');
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain('<title>Profiles · outmail</title>');
  for (const label of ['Profiles', 'Tenants', 'Delivery log', 'Settings']) {
    expect(html).toContain(`>${label}</a>`);
  }
});

test('the page hydrates and the menu button responds', async ({ page, consoleErrors }) => {
  await page.goto('/');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const menu = page.getByRole('button', { name: 'Menu' });
  const nav = page.getByRole('navigation', { name: 'Main' });
  // On a phone the navigation folds behind the Menu button; on a desktop the button is hidden.
  const folded = await menu.isVisible();
  if (folded) {
    await expect(nav).toBeHidden();
    await expect(menu).toHaveAttribute('aria-expanded', 'false');
    await menu.click();
    await expect(menu).toHaveAttribute('aria-expanded', 'true');
  }
  await nav.getByRole('link', { name: 'Tenants' }).click();
  await expect(page).toHaveURL(/\/tenants$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Tenants');
  await expect(page).toHaveTitle('Tenants · outmail');
  if (folded) {
    // Following a link closes the menu so it does not cover the page.
    await expect(menu).toHaveAttribute('aria-expanded', 'false');
    await menu.click();
  }
  await expect(nav.getByRole('link', { name: 'Tenants' })).toHaveAttribute('aria-current', 'page');
  expect(consoleErrors).toEqual([]);
});

test('each section is reachable by its address', async ({ page, consoleErrors }) => {
  for (const [path, heading] of [
    ['/', 'Profiles'],
    ['/tenants', 'Tenants'],
    ['/delivery', 'Delivery log'],
    ['/settings', 'Settings'],
  ]) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(heading);
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  }
  expect(consoleErrors).toEqual([]);
});

test('an unknown page answers 404 with a way back', async ({ page }) => {
  const response = await page.goto('/no-such-page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
});

test('the health endpoint answers with the version and the database', async ({ request }) => {
  const response = await request.get('/api/v1/health');
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toContain('application/json');
  const body = await response.json();
  expect(body).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/), database: 'sqlite' });
});

test('hashed assets are served compressed with long cache headers', async ({ page }) => {
  const assets: { url: string; encoding?: string; cache?: string }[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/pkg/')) {
      const headers = response.headers();
      assets.push({ url: response.url(), encoding: headers['content-encoding'], cache: headers['cache-control'] });
    }
  });
  await page.goto('/');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  const kinds = assets.map((asset) => asset.url.split('.').pop());
  expect(kinds).toEqual(expect.arrayContaining(['js', 'wasm', 'css']));
  for (const asset of assets) {
    expect(asset.encoding, asset.url).toBe('br');
    expect(asset.cache, asset.url).toBe('public, max-age=31536000, immutable');
  }
});
