// The delegated OAuth grant: "Sign in and consent" opens the provider's sign-in in a popup (the
// token service signs in at once and redirects to /oauth/callback), the popup reports back and
// closes, the editor shows the connected mailbox, and the stored refresh token sends mail.
import { test, expect } from '../fixtures';
import { SmtpPeer, ScriptPeer, unique } from '../peers';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const MAILBOX = 'alerts@example.com';
const TOKEN = 'e2e-delegated-token-1';

test('sign in and consent in a popup, then send with the stored refresh token', async ({ page, request, baseURL, consoleErrors }) => {
  const tokens = await ScriptPeer.oauth(['--tenant', TENANT, '--client-id', CLIENT, '--client-secret', 'e2e-secret', '--mailbox', MAILBOX, '--access-token', TOKEN]);
  const smtp = await SmtpPeer.start(['--auth', 'XOAUTH2', '--user', MAILBOX, '--token', TOKEN, '--require-auth']);
  try {
    const base = tokens.url(`/${TENANT}/oauth2/v2.0`);
    const created = await request.post('/api/v1/profiles', {
      data: {
        name: unique('Delegated relay'),
        transport: {
          kind: 'smtp', host: '127.0.0.1', port: smtp.port, security: 'none',
          auth: {
            kind: 'oauth2', username: MAILBOX,
            oauth: {
              preset: 'custom', client_id: CLIENT,
              flow: { kind: 'authorization_code', redirect_url: `${baseURL}/oauth/callback` },
              token_url: `${base}/token`, authorize_url: `${base}/authorize`,
              scopes: 'https://outlook.office365.com/SMTP.Send offline_access',
              client_secret: { value: 'e2e-secret' },
            },
          },
        },
        sender: { address: MAILBOX },
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    const { id } = await created.json();

    await page.goto(`/profiles/${id}`);
    await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByText('Not signed in yet.')).toBeVisible();
    const popupOpened = page.waitForEvent('popup');
    await page.getByRole('button', { name: 'Sign in and consent' }).click();
    const popup = await popupOpened;
    await expect(page.getByText(`Connected: ${MAILBOX}`)).toBeVisible();
    // The popup's last page reported back and closed itself.
    await expect.poll(() => popup.isClosed()).toBe(true);
    await expect(page.getByText('Signed in: the refresh token is stored.')).toBeVisible();
    const stored = await (await request.get(`/api/v1/profiles/${id}`)).json();
    expect(stored.profile.transport.auth.oauth.refresh_token).toEqual({ set: true });

    await page.getByRole('button', { name: 'Send a test' }).click();
    const dialog = page.getByRole('dialog', { name: 'Send a test' });
    await dialog.getByLabel('Recipient').fill('ops@example.net');
    await dialog.getByRole('button', { name: 'Send', exact: true }).click();
    await expect(dialog.locator('.test-report')).toHaveAttribute('data-outcome', 'delivered');
    expect(smtp.messages()).toHaveLength(1);
    const grants = tokens.records().filter((r) => r.path.endsWith('/token')).map((r) => r.body.grant_type);
    expect(grants).toEqual(['authorization_code', 'refresh_token']);
    expect(consoleErrors).toEqual([]);
  } finally {
    tokens.stop();
    smtp.stop();
  }
});
