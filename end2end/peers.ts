// Real mail peers for the specs, and small API helpers to set up what a spec needs before it
// drives the browser. The SMTP peer is the same aiosmtpd server the Rust tests use; every
// message it accepts is a JSON file the spec can assert on. The API helpers take the spec's
// `request` fixture, which is signed in as the admin and sends the server's Origin (fixtures.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, type APIRequestContext } from '@playwright/test';
import { projectRoot } from './fixtures';

/** One message as the SMTP peer spooled it (see smtp_peer.py for every key). */
export type Spooled = {
  mail_from: string;
  rcpt_tos: string[];
  data: string;
  client_port: number;
  connection_message: number;
};

export class SmtpPeer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly spool: string,
  ) {}

  /** Starts the aiosmtpd peer on a free loopback port with `args` (smtp_peer.py's flags). */
  static async start(args: string[] = []): Promise<SmtpPeer> {
    const spool = mkdtempSync(join(tmpdir(), 'outmail-e2e-spool-'));
    const script = join(projectRoot, 'crates/outmail-testkit/peers/smtp_peer.py');
    const child = spawn(
      '/usr/bin/python3',
      [script, '--spool', spool, '--log-level', 'warning', '--exit-on-stdin-eof', ...args],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the SMTP peer exited with ${code} before READY`)));
    });
    const match = /^READY (\d+)$/.exec(line);
    if (!match) throw new Error(`the SMTP peer said ${JSON.stringify(line)} instead of READY`);
    return new SmtpPeer(child, Number(match[1]), spool);
  }

  /** Every accepted message, in arrival order. */
  messages(): Spooled[] {
    return readdirSync(this.spool)
      .filter((name) => /^\d+\.json$/.test(name))
      .sort((a, b) => parseInt(a) - parseInt(b))
      .map((name) => JSON.parse(readFileSync(join(this.spool, name), 'utf8')) as Spooled);
  }

  /** The messages whose Subject header is `subject`, once `count` of them arrived. */
  async received(subject: string, count = 1): Promise<Spooled[]> {
    const matching = () => this.messages().filter((m) => m.data.includes(`\r\nSubject: ${subject}\r\n`));
    await expect.poll(() => matching().length, { message: `messages with subject ${subject}` }).toBe(count);
    return matching();
  }

  stop() {
    this.child.kill('SIGTERM');
    rmSync(this.spool, { recursive: true, force: true });
  }
}

/** A loopback port nothing listens on: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A name no other test in this worker's server uses. */
export function unique(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** A plain SMTP profile for 127.0.0.1:`port` without authentication; answers its ID. */
export async function createSmtpProfile(
  request: APIRequestContext,
  name: string,
  port: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const response = await request.post('/api/v1/profiles', {
    data: {
      name,
      transport: { kind: 'smtp', host: '127.0.0.1', port, security: 'none', auth: { kind: 'none' } },
      sender: { address: '"Alerts" <alerts@example.com>' },
      send_frequency: 0,
      utf8_headers: false,
      ...extra,
    },
  });
  expect(response.status(), await response.text()).toBe(201);
  return (await response.json()).id;
}

/** Saves the global settings with `settings` changed and the rest as they are. */
export async function setGlobalSettings(
  request: APIRequestContext,
  settings: Record<string, unknown>,
): Promise<void> {
  const current = await request.get('/api/v1/settings');
  const etag = current.headers()['etag'];
  const body = { ...(await current.json()).settings, ...settings };
  const saved = await request.put('/api/v1/settings', { data: body, headers: { 'If-Match': etag } });
  expect(saved.status(), await saved.text()).toBe(200);
}

/** Sends a message through the product API; answers the 202 body. */
export async function sendMessage(
  request: APIRequestContext,
  message: Record<string, unknown>,
): Promise<{ id: string; status: string }> {
  const response = await request.post('/api/v1/messages', { data: message });
  expect(response.status(), await response.text()).toBe(202);
  return response.json();
}

/** Waits until message `id` has left the queue; answers its final status. */
export async function settled(request: APIRequestContext, id: string): Promise<string> {
  let status = 'queued';
  await expect
    .poll(async () => {
      status = (await (await request.get(`/api/v1/messages/${id}`)).json()).status;
      return status;
    })
    .not.toBe('queued');
  return status;
}

/** One of the scripted peers (token service, Graph and EWS fakes): started with a record file,
 * one JSON line per request it answered. */
export class ScriptPeer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  private static async start(program: string, script: string, args: string[], exitFlag: string): Promise<ScriptPeer> {
    const dir = mkdtempSync(join(tmpdir(), 'outmail-e2e-peer-'));
    const child = spawn(program, [join(projectRoot, script), '--record', join(dir, 'record.jsonl'), exitFlag, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before READY`)));
    });
    const match = /^READY (\d+)$/.exec(line);
    if (!match) throw new Error(`${script} said ${JSON.stringify(line)} instead of READY`);
    return new ScriptPeer(child, Number(match[1]), dir);
  }

  /** The OAuth token service (oauth2-mock-server behind Microsoft's checks). */
  static oauth(args: string[]) {
    return ScriptPeer.start('node', 'tools/peers/oauth_peer.mjs', args, '--exit-on-stdin-close');
  }

  /** The strict Microsoft Graph fake. */
  static graph(args: string[]) {
    return ScriptPeer.start('/usr/bin/python3', 'crates/outmail-testkit/peers/graph_peer.py', ['--log-level', 'warning', ...args], '--exit-on-stdin-eof');
  }

  /** The strict EWS fake. */
  static ews(args: string[]) {
    return ScriptPeer.start('/usr/bin/python3', 'crates/outmail-testkit/peers/ews_peer.py', ['--log-level', 'warning', ...args], '--exit-on-stdin-eof');
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  records(): Record<string, any>[] {
    try {
      return readFileSync(join(this.dir, 'record.jsonl'), 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line));
    } catch {
      return [];
    }
  }

  stop() {
    this.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A fixture of outmail-types' tests (RSA client certificate and key). */
export function fixture(name: string): string {
  return readFileSync(join(projectRoot, 'crates/outmail-types/tests/fixtures', name), 'utf8');
}

/** microsocks, a SOCKS5 proxy, on a free loopback port; resolves once it accepts connections. */
export async function startSocksProxy(): Promise<{ port: number; stop: () => void }> {
  const port = await closedPort();
  const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const { connect } = await import('node:net');
  await expect
    .poll(
      () =>
        new Promise<boolean>((done) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            done(true);
          });
          socket.once('error', () => done(false));
        }),
      { message: 'microsocks listening' },
    )
    .toBe(true);
  return { port, stop: () => child.kill('SIGTERM') };
}
