// The seed flows an admin walks through in the profile editor, each against real peers (the
// aiosmtpd server, the OAuth token service) or the strict Graph and EWS fakes, asserting on
// what the peer received.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from '../fixtures';
import type { Page } from '@playwright/test';
import { SmtpPeer, ScriptPeer, fixture, unique } from '../peers';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const CLIENT_SECRET = 'e2e-client-secret~1';
const MAILBOX = 'alerts@example.com';
const TOKEN = 'e2e-access-token-1';

const textbox = (page: Page, name: string) => page.getByRole('textbox', { name, exact: true });

/** Opens a new profile and fills what every flow shares. */
async function newProfile(page: Page, name: string, transport: string) {
  await page.goto('/profiles/new');
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'true');
  await textbox(page, 'Name').fill(name);
  await page.getByLabel('Transport').selectOption(transport);
}

/** Runs a test send from the editor and answers the report element once it has an outcome. */
async function testSend(page: Page, to: string) {
  await page.getByRole('button', { name: 'Send a test' }).click();
  const dialog = page.getByRole('dialog', { name: 'Send a test' });
  await dialog.getByLabel('Recipient').fill(to);
  await dialog.getByRole('button', { name: 'Send', exact: true }).click();
  const report = dialog.locator('.test-report');
  await expect(report).toHaveAttribute('data-outcome', /.+/);
  return { dialog, report };
}

/** Fills the OAuth section for the token peer's app (the "another provider" preset, since the
 * Microsoft presets point at Microsoft's own hosts). */
async function fillOAuth(page: Page, tokens: ScriptPeer, scopes: string) {
  await page.getByLabel('Provider').selectOption('custom');
  await textbox(page, 'Application (client) ID').fill(CLIENT);
  await textbox(page, 'Token URL').fill(tokens.url(`/${TENANT}/oauth2/v2.0/token`));
  await textbox(page, 'Scopes').fill(scopes);
}

test('Office 365 app-only over SMTP with a client secret: tested before saving, then saved', async ({ page, request, consoleErrors }) => {
  const tokens = await ScriptPeer.oauth(['--tenant', TENANT, '--client-id', CLIENT, '--client-secret', CLIENT_SECRET, '--mailbox', MAILBOX, '--access-token', TOKEN]);
  const smtp = await SmtpPeer.start(['--auth', 'XOAUTH2', '--user', MAILBOX, '--token', TOKEN, '--require-auth']);
  try {
    await newProfile(page, unique('O365 app-only'), 'smtp');
    await textbox(page, 'Server').fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    await page.getByRole('spinbutton', { name: 'Port' }).fill(String(smtp.port));
    await page.getByLabel('Sign in with').selectOption('oauth2');
    // The Microsoft preset prefills the app-only Exchange Online scope.
    await expect(textbox(page, 'Scopes')).toHaveValue('https://outlook.office365.com/.default');
    await page.getByLabel('Authority host').selectOption('us_gov');
    await expect(textbox(page, 'Scopes')).toHaveValue('https://outlook.office365.us/.default');
    await textbox(page, 'User name').fill(MAILBOX);
    await fillOAuth(page, tokens, 'https://outlook.office365.com/.default');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-auth-oauth-client_secret').fill(CLIENT_SECRET);
    await textbox(page, 'From address').fill(`"Alerts" <${MAILBOX}>`);

    const { dialog, report } = await testSend(page, 'ops@example.net');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    await expect(report.locator('li.stage.ok .stage-name', { hasText: /^token$/ })).toHaveCount(1);
    const [message] = smtp.messages() as unknown as { auth_mechanism: string; xoauth2_sasl: string }[];
    expect(message.auth_mechanism).toBe('XOAUTH2');
    expect(message.xoauth2_sasl).toBe(`user=${MAILBOX}\x01auth=Bearer ${TOKEN}\x01\x01`);
    const tokenRequest = tokens.records().find((r) => r.path.endsWith('/token'))!;
    expect(tokenRequest.body).toMatchObject({ grant_type: 'client_credentials', client_id: CLIENT, client_secret: CLIENT_SECRET });
    await report.getByText('Transcript (secrets redacted)').click();
    await expect(report.locator('.transcript')).not.toContainText(TOKEN);
    await expect(report.locator('.transcript')).not.toContainText(CLIENT_SECRET);
    await dialog.getByRole('button', { name: 'Close' }).click();

    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByText('Saved.')).toBeVisible();
    const id = page.url().split('/').pop();
    const stored = await (await request.get(`/api/v1/profiles/${id}`)).json();
    expect(stored.profile.transport.auth.oauth.client_secret).toEqual({ set: true });
    expect(JSON.stringify(stored)).not.toContain(CLIENT_SECRET);
    expect(consoleErrors).toEqual([]);
  } finally {
    tokens.stop();
    smtp.stop();
  }
});

test('app-only with a certificate: the subject shows once pasted, and the assertion is signed', async ({ page, consoleErrors }) => {
  const certificate = fixture('client_cert.pem');
  const certPath = join(tmpdir(), `outmail-e2e-cert-${Date.now()}.pem`);
  writeFileSync(certPath, certificate);
  const tokens = await ScriptPeer.oauth(['--tenant', TENANT, '--client-id', CLIENT, '--client-cert', certPath, '--mailbox', MAILBOX, '--access-token', TOKEN]);
  const smtp = await SmtpPeer.start(['--auth', 'XOAUTH2', '--user', MAILBOX, '--token', TOKEN, '--require-auth']);
  try {
    await newProfile(page, unique('O365 certificate'), 'smtp');
    await textbox(page, 'Server').fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    await page.getByRole('spinbutton', { name: 'Port' }).fill(String(smtp.port));
    await page.getByLabel('Sign in with').selectOption('oauth2');
    await textbox(page, 'User name').fill(MAILBOX);
    await fillOAuth(page, tokens, 'https://outlook.office365.com/.default');
    await page.getByLabel('The application proves itself with').selectOption('certificate');
    await page.getByLabel('Certificate (PEM)').fill(certificate);
    await expect(page.locator('#f-oauth-certificate-summary')).toContainText('Subject: ');
    await expect(page.locator('#f-oauth-certificate-summary')).toContainText('expires');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-auth-oauth-private_key').fill(fixture('client_key_pkcs8.pem'));
    await textbox(page, 'From address').fill(MAILBOX);

    const { report } = await testSend(page, 'ops@example.net');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    const tokenRequest = tokens.records().find((r) => r.path.endsWith('/token'))!;
    expect(tokenRequest.body.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(tokenRequest.body.client_secret).toBeUndefined();
    const header = JSON.parse(Buffer.from(tokenRequest.body.client_assertion.split('.')[0], 'base64url').toString());
    expect(header.alg).toBe('PS256');
    expect(header['x5t#S256']).toBeTruthy();
    expect(smtp.messages()).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  } finally {
    tokens.stop();
    smtp.stop();
    rmSync(certPath, { force: true });
  }
});

test('Microsoft Graph: national-cloud scopes follow the cloud, and the fake receives sendMail', async ({ page, consoleErrors }) => {
  const tokens = await ScriptPeer.oauth(['--tenant', TENANT, '--client-id', CLIENT, '--client-secret', CLIENT_SECRET, '--mailbox', MAILBOX, '--access-token', TOKEN]);
  const graph = await ScriptPeer.graph(['--token', TOKEN, '--mailbox', MAILBOX]);
  try {
    await newProfile(page, unique('Graph'), 'graph');
    await expect(textbox(page, 'Scopes')).toHaveValue('https://graph.microsoft.com/.default');
    await page.getByLabel('Cloud').selectOption('us_gov');
    await expect(textbox(page, 'Scopes')).toHaveValue('https://graph.microsoft.us/.default');
    // A national cloud takes tokens only from its own sign-in host.
    await expect(page.getByLabel('Authority host')).toHaveValue('us_gov');
    await page.getByLabel('Cloud').selectOption('china');
    await expect(textbox(page, 'Scopes')).toHaveValue('https://microsoftgraph.chinacloudapi.cn/.default');
    // The fake stands in for the service at its own address.
    await page.getByLabel('Cloud').selectOption('custom');
    await textbox(page, 'Graph address').fill(graph.url(''));
    await page.getByLabel('Keep a copy in Sent Items').uncheck();
    await fillOAuth(page, tokens, 'https://graph.microsoft.com/.default');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-oauth-client_secret').fill(CLIENT_SECRET);
    await textbox(page, 'From address').fill(`"Alerts" <${MAILBOX}>`);

    const { report } = await testSend(page, '"Ops" <ops@example.net>');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    const [sent] = graph.records();
    expect(sent.status).toBe(202);
    expect(sent.path).toBe(`/v1.0/users/${MAILBOX}/sendMail`);
    expect(sent.body.saveToSentItems).toBe(false);
    expect(sent.body.message.toRecipients[0].emailAddress).toEqual({ address: 'ops@example.net', name: 'Ops' });
    expect(consoleErrors).toEqual([]);
  } finally {
    tokens.stop();
    graph.stop();
  }
});

test('EWS with basic authentication: CreateItem in the documented shape', async ({ page, consoleErrors }) => {
  const password = 'Winter2025!ews';
  const sender = 'noreply@corp.example.com';
  const ews = await ScriptPeer.ews(['--auth', 'basic', '--user', 'svc-mailer', '--password', password, '--mailbox', sender]);
  try {
    await newProfile(page, unique('Exchange'), 'ews');
    await textbox(page, 'EWS URL').fill(ews.url('/EWS/Exchange.asmx'));
    await page.getByLabel('Exchange version').selectOption('Exchange2016');
    await textbox(page, 'User name').fill('svc-mailer');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-auth-password').fill(password);
    await textbox(page, 'From address').fill(`"Relay" <${sender}>`);

    const { report } = await testSend(page, 'ops@example.net');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    const [request] = ews.records();
    expect(request.response_code).toBe('NoError');
    expect(request.soap.version).toBe('Exchange2016');
    expect(request.soap.disposition).toBe('SendAndSaveCopy');
    expect(consoleErrors).toEqual([]);
  } finally {
    ews.stop();
  }
});

test('NTLM over SMTP, and UTF-8 headers to 山田太郎@株式.会社 through a server offering SMTPUTF8', async ({ page, consoleErrors }) => {
  const smtp = await SmtpPeer.start(['--auth', 'NTLM', '--user', 'svc-mailer', '--password', 'Ntlm-Pass1', '--ntlm-domain', 'CORP', '--require-auth']);
  try {
    await newProfile(page, unique('NTLM relay'), 'smtp');
    await textbox(page, 'Server').fill('127.0.0.1');
    await page.getByLabel('Security').selectOption('none');
    await page.getByRole('spinbutton', { name: 'Port' }).fill(String(smtp.port));
    await page.getByLabel('Sign in with').selectOption('ntlm');
    await textbox(page, 'User name').fill('svc-mailer');
    await textbox(page, 'Domain').fill('CORP');
    await page.getByRole('button', { name: 'Enter' }).click();
    await page.locator('#f-transport-auth-password').fill('Ntlm-Pass1');
    await textbox(page, 'From address').fill('"営業部" <eigyo@example.com>');
    await page.getByLabel('UTF-8 headers (SMTPUTF8)').check();

    const { report } = await testSend(page, '山田太郎@株式.会社');
    await expect(report).toHaveAttribute('data-outcome', 'delivered');
    const [message] = smtp.messages() as unknown as { rcpt_tos: string[]; mail_options: string[]; auth_login: string; data: string }[];
    expect(message.auth_login).toBe('CORP\\svc-mailer');
    // The local part goes as UTF-8 (SMTPUTF8); the domain as its A-label, which every server
    // on the way can resolve.
    expect(message.rcpt_tos).toEqual(['山田太郎@xn--w0tp6r.xn--6oq404h']);
    expect(message.data).toContain('山田太郎@');
    expect(message.mail_options).toContain('SMTPUTF8');
    // The display name travels as an RFC 2047 encoded word, which every reader decodes.
    expect(message.data).toContain(`From: =?utf-8?b?${Buffer.from('営業部').toString('base64')}?= <eigyo@example.com>`);
    expect(consoleErrors).toEqual([]);
  } finally {
    smtp.stop();
  }
});
