// oauth_peer.mjs: a loopback OAuth 2.0 token service for outmail's integration
// tests. It is built on oauth2-mock-server (pinned in ../package.json), with a
// front handler that checks requests the way Microsoft's identity platform
// documents them and fails in Microsoft's JSON error shape.
//
// Run:  node tools/peers/oauth_peer.mjs [flags]
//   --port N                listen port on 127.0.0.1 (default 0: the OS picks one)
//   --tenant GUID           the one tenant served (default 11111111-2222-3333-4444-555555555555)
//   --client-id ID          the one registered application (default aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
//   --client-secret S       its secret; without it, every client_secret is refused
//   --client-cert FILE      PEM certificate registered for client assertions (may repeat)
//   --mailbox ADDR          preferred_username/email/upn of the signed-in user (default user@example.com)
//   --expires-in N          lifetime in seconds of issued tokens (default 3600)
//   --access-token T        issue this fixed access token instead of a fresh JWT, so a
//                           mail peer started beside it can check the exact bearer it receives
//   --record FILE           append one JSON line per token/authorize request:
//                           {path, method, headers, query, body}; body holds the form fields
//   --exit-on-stdin-close   exit when stdin reaches end of file (parent gone)
//
// Stdout carries exactly one line, "READY <port>", once listening; logs go to
// stderr. SIGTERM or SIGINT end the process with status 0.
//
// Endpoints, all under http://127.0.0.1:<port>:
//   POST /{tenant}/oauth2/v2.0/token       grants client_credentials, authorization_code, refresh_token
//   GET  /{tenant}/oauth2/v2.0/authorize   redirects at once to redirect_uri with ?code=…
//   GET  /{tenant}/v2.0/.well-known/openid-configuration,  /{tenant}/discovery/v2.0/keys
//   GET  /{tenant}/oauth2/v2.0/logout,  and the library's /userinfo, /revoke, /introspect
//
// Replies (errors: {"error","error_description":"AADSTSn: …","error_codes":[n],
// "timestamp","trace_id","correlation_id","error_uri"}):
//   200  token response; access_token and id_token are RS256 JWTs; refresh_token
//        is new on every response, and each one may be redeemed only once
//   400  invalid_request         AADSTS90002   tenant in the path is not --tenant
//   400  invalid_request         AADSTS900144  a required field is missing (grant_type, client_id, scope, …)
//   400  invalid_request         AADSTS900561  token endpoint called with another method than POST
//   400  invalid_request         AADSTS50027   client_assertion is not a well-formed JWT
//   400  invalid_request         AADSTS9002313 repeated fields, or two client authentication methods
//   400  unauthorized_client     AADSTS700016  unknown client_id
//   400  unsupported_grant_type  AADSTS70003   grant type other than the three above
//   400  invalid_scope           AADSTS1002012 client_credentials scope without a "/.default" suffix
//   400  invalid_grant           AADSTS70000   unknown or already rotated refresh token, unknown code,
//                                               code of another client, redirect_uri mismatch
//   400  invalid_grant           AADSTS54005   authorization code redeemed a second time
//   400  invalid_grant           AADSTS501481  PKCE code_verifier missing or not matching
//   401  invalid_client          AADSTS7000215 wrong client secret
//   401  invalid_client          AADSTS7000218 client_credentials with neither secret nor assertion
//   401  invalid_client          AADSTS700027  assertion signature, x5t/x5t#S256 or alg not acceptable
//   401  invalid_client          AADSTS700021  assertion iss/sub differ from client_id
//   401  invalid_client          AADSTS700024  assertion outside its valid time range (5 min skew)
//   401  invalid_client          AADSTS50013   assertion aud is not this token endpoint's URL
//
// The codes are Microsoft's; the description texts follow Microsoft's wording
// where known and are shortened paraphrases elsewhere.

import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import { createServer } from 'node:http';
import { appendFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import crypto from 'node:crypto';

const HOST = '127.0.0.1';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const SKEW_SECONDS = 300;
const MAX_BODY = 1 << 20;

const log = (...parts) => console.error('[oauth_peer]', ...parts);

function die(message) {
  log(message);
  process.exit(2);
}

// ---- flags ---------------------------------------------------------------

let flags;
try {
  ({ values: flags } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      tenant: { type: 'string', default: '11111111-2222-3333-4444-555555555555' },
      'client-id': { type: 'string', default: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' },
      'client-secret': { type: 'string' },
      'client-cert': { type: 'string', multiple: true, default: [] },
      mailbox: { type: 'string', default: 'user@example.com' },
      'expires-in': { type: 'string', default: '3600' },
      'access-token': { type: 'string' },
      record: { type: 'string' },
      'exit-on-stdin-close': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  die(`bad arguments: ${err.message}`);
}

const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) die(`bad --port ${flags.port}`);
const expiresIn = Number(flags['expires-in']);
if (!Number.isInteger(expiresIn) || expiresIn < 0) die(`bad --expires-in ${flags['expires-in']}`);
if (!GUID.test(flags.tenant)) die(`--tenant must be a GUID, got ${flags.tenant}`);
const tenant = flags.tenant.toLowerCase();
const clientId = flags['client-id'];
const clientSecret = flags['client-secret'];
const mailbox = flags.mailbox;
const recordFile = flags.record;

// Registered certificates: public key plus both thumbprints of the DER form.
const certs = [];
for (const file of flags['client-cert']) {
  let cert;
  try {
    cert = new crypto.X509Certificate(readFileSync(file));
  } catch (err) {
    die(`cannot read certificate ${file}: ${err.message}`);
  }
  certs.push({
    file,
    publicKey: cert.publicKey,
    x5t: crypto.createHash('sha1').update(cert.raw).digest(),
    x5tS256: crypto.createHash('sha256').update(cert.raw).digest(),
  });
}

if (recordFile && !existsSync(recordFile)) writeFileSync(recordFile, '');

// ---- paths ---------------------------------------------------------------

const paths = {
  token: `/${tenant}/oauth2/v2.0/token`,
  authorize: `/${tenant}/oauth2/v2.0/authorize`,
  wellKnownDocument: `/${tenant}/v2.0/.well-known/openid-configuration`,
  jwks: `/${tenant}/discovery/v2.0/keys`,
  endSession: `/${tenant}/oauth2/v2.0/logout`,
};
// Microsoft-shaped paths, whatever the tenant segment: [whole, tenant, rest].
const MS_PATH = /^\/([^/]+)\/(oauth2\/v2\.0\/(?:token|authorize|logout)|v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys)\/?$/i;

// ---- library parts -------------------------------------------------------
// OAuth2Server binds the library's handler to a private http.Server, leaving
// no place for a handler in front of it. So this builds the two parts that
// OAuth2Server is made of, the issuer and the service, and serves the
// service's handler from our own server.

const issuer = new OAuth2Issuer();
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer, paths);

// ---- state ---------------------------------------------------------------

const codes = new Map(); // code -> { clientId, redirectUri, scope, challenge, method }
const redeemedCodes = new Set();
const refreshTokens = new Map(); // refresh token -> { clientId, scope }

// ---- helpers -------------------------------------------------------------

class PeerError extends Error {
  constructor(status, error, code, description) {
    super(description);
    this.status = status;
    this.error = error;
    this.code = code;
  }
}
const reject = (status, error, code, description) => {
  throw new PeerError(status, error, code, description);
};
const missing = (name) =>
  reject(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`);

function sendError(res, err) {
  const traceId = crypto.randomUUID();
  const correlationId = crypto.randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const body = {
    error: err.error,
    error_description: `AADSTS${err.code}: ${err.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [err.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `http://${HOST}:${boundPort}/error?code=${err.code}`,
  };
  const text = JSON.stringify(body);
  res.writeHead(err.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store, no-cache',
    Pragma: 'no-cache',
  });
  res.end(text);
}

// Form fields as an object; a repeated field becomes an array.
function formFields(params) {
  const out = {};
  for (const [k, v] of params) {
    if (!(k in out)) out[k] = v;
    else if (Array.isArray(out[k])) out[k].push(v);
    else out[k] = [out[k], v];
  }
  return out;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new PeerError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function record(entry) {
  if (recordFile) appendFileSync(recordFile, JSON.stringify(entry) + '\n');
}

function sameSecret(a, b) {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function notFoundClient(id) {
  reject(
    400,
    'unauthorized_client',
    700016,
    `Application with identifier '${id}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  );
}

function decodeJsonPart(part) {
  const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
  return value;
}

// Checks a client assertion JWT; returns the client id it proves.
function verifyAssertion(jwt, bodyClientId, acceptedAudiences) {
  const malformed = (why) => reject(400, 'invalid_request', 50027, `JWT token is invalid or malformed. ${why}`);
  const notRegistered = (why) =>
    reject(401, 'invalid_client', 700027, `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - ${why}]`);

  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || parts[2] === '') {
    malformed('Expected three base64url parts.');
  }
  let header, claims;
  try {
    header = decodeJsonPart(parts[0]);
    claims = decodeJsonPart(parts[1]);
  } catch {
    malformed('Header or payload is not base64url JSON.');
  }

  if (header.alg !== 'RS256' && header.alg !== 'PS256') notRegistered(`The algorithm '${header.alg}' is not supported; use RS256 or PS256.`);
  const x5t = typeof header.x5t === 'string' ? Buffer.from(header.x5t, 'base64url') : undefined;
  const x5tS256 = typeof header['x5t#S256'] === 'string' ? Buffer.from(header['x5t#S256'], 'base64url') : undefined;
  if (!x5t && !x5tS256) notRegistered('The header carries neither x5t nor x5t#S256.');
  const cert = certs.find(
    (c) => (!x5t || x5t.equals(c.x5t)) && (!x5tS256 || x5tS256.equals(c.x5tS256)),
  );
  if (!cert) {
    notRegistered(`The key was not found., Thumbprint of key used by client: '${header.x5t ?? header['x5t#S256']}'`);
  }

  const signed = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
  const signature = Buffer.from(parts[2], 'base64url');
  const key =
    header.alg === 'PS256'
      ? { key: cert.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }
      : cert.publicKey;
  let good = false;
  try {
    good = crypto.verify('sha256', signed, key, signature);
  } catch {
    good = false;
  }
  if (!good) notRegistered('The signature does not verify with the registered certificate.');

  for (const claim of ['aud', 'iss', 'sub', 'exp', 'nbf', 'jti']) {
    if (claims[claim] === undefined) malformed(`Claim '${claim}' is missing.`);
  }
  if (typeof claims.iss !== 'string' || claims.iss !== claims.sub) {
    reject(401, 'invalid_client', 700021, "Client assertion application identifier doesn't match 'client_id' parameter. The 'iss' and 'sub' claims must both be the client id.");
  }
  if (bodyClientId !== undefined && claims.iss !== bodyClientId) {
    reject(401, 'invalid_client', 700021, `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`);
  }
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (auds.length !== 1 || !acceptedAudiences.includes(auds[0])) {
    reject(401, 'invalid_client', 50013, `Assertion is invalid: audience '${auds.join(' ')}' is not the token endpoint '${acceptedAudiences[0]}'.`);
  }
  const now = Math.floor(Date.now() / 1000);
  for (const claim of ['exp', 'nbf', 'iat']) {
    if (claims[claim] !== undefined && typeof claims[claim] !== 'number') malformed(`Claim '${claim}' is not a number.`);
  }
  if (claims.exp + SKEW_SECONDS < now) {
    reject(401, 'invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${new Date(now * 1000).toISOString()}, expiry time of assertion ${new Date(claims.exp * 1000).toISOString()}.`);
  }
  for (const claim of ['nbf', 'iat']) {
    if (claims[claim] !== undefined && claims[claim] - SKEW_SECONDS > now) {
      reject(401, 'invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${new Date(now * 1000).toISOString()}, '${claim}' of assertion ${new Date(claims[claim] * 1000).toISOString()}.`);
    }
  }
  if (typeof claims.jti !== 'string' || claims.jti === '') malformed("Claim 'jti' must be a non-empty string.");
  if (claims.iss !== clientId) notFoundClient(claims.iss);
  return claims.iss;
}

// Works out and checks the client's authentication. `required`: a confidential
// client credential must be present (client_credentials grant).
function authenticateClient(req, body, required) {
  let basic;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) reject(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.');
    basic = {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  }
  const methods = [basic, body.client_secret, body.client_assertion].filter((x) => x !== undefined).length;
  if (methods > 1) reject(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid. Only one client authentication method may be used.');

  const id = basic ? basic.id : body.client_id;
  if (basic && body.client_id !== undefined && body.client_id !== basic.id) {
    reject(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid. client_id differs from the Authorization header.');
  }

  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
    if (body.client_assertion_type === undefined) missing('client_assertion_type');
    if (body.client_assertion === undefined) missing('client_assertion');
    if (body.client_assertion_type !== ASSERTION_TYPE) {
      reject(400, 'invalid_request', 9002313, `Invalid request. Request is malformed or invalid. client_assertion_type must be '${ASSERTION_TYPE}'.`);
    }
    if (id === undefined) missing('client_id');
    if (id !== clientId) notFoundClient(id);
    const host = req.headers.host ?? `${HOST}:${boundPort}`;
    const audiences = [`http://${HOST}:${boundPort}${paths.token}`, `http://${host}${new URL(req.url, 'http://x').pathname}`];
    verifyAssertion(body.client_assertion, id, audiences);
    return { id, method: 'client_assertion' };
  }

  if (id === undefined) missing('client_id');
  if (id !== clientId) notFoundClient(id);
  const secret = basic ? basic.secret : body.client_secret;
  if (secret !== undefined) {
    if (clientSecret === undefined || !sameSecret(secret, clientSecret)) {
      reject(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${id}'.`);
    }
    return { id, method: basic ? 'client_secret_basic' : 'client_secret_post' };
  }
  if (required) {
    reject(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  }
  return { id, method: 'none' };
}

function s256(verifier) {
  return crypto.createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

// ---- token endpoint checks -----------------------------------------------

function checkTokenRequest(req, body) {
  for (const [k, v] of Object.entries(body)) {
    if (typeof v !== 'string') reject(400, 'invalid_request', 9002313, `Invalid request. Request is malformed or invalid. Parameter '${k}' is repeated.`);
  }
  const grant = body.grant_type;
  if (grant === undefined) missing('grant_type');
  if (!['client_credentials', 'authorization_code', 'refresh_token'].includes(grant)) {
    reject(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`);
  }

  const client = authenticateClient(req, body, grant === 'client_credentials');
  req.peerClientId = client.id;
  req.peerGrant = grant;

  if (grant === 'client_credentials') {
    if (body.scope === undefined || body.scope.trim() === '') missing('scope');
    const scopes = body.scope.trim().split(/\s+/);
    if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
      reject(400, 'invalid_scope', 1002012, `The provided value for scope ${body.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    req.peerResource = scopes[0].slice(0, -'/.default'.length);
  } else if (grant === 'authorization_code') {
    if (body.code === undefined) missing('code');
    if (body.redirect_uri === undefined) missing('redirect_uri');
    const grantInfo = codes.get(body.code);
    if (!grantInfo) {
      if (redeemedCodes.has(body.code)) {
        reject(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      }
      reject(400, 'invalid_grant', 70000, "Provided grant is invalid or malformed. The value of 'code' was not issued by this server.");
    }
    if (grantInfo.clientId !== client.id) {
      reject(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed. The code was issued to another client.');
    }
    if (grantInfo.redirectUri !== body.redirect_uri) {
      reject(400, 'invalid_grant', 70000, "Provided grant is invalid or malformed. 'redirect_uri' differs from the one in the authorization request.");
    }
    if (grantInfo.challenge !== undefined || body.code_verifier !== undefined) {
      const verifier = body.code_verifier;
      const ok =
        grantInfo.challenge !== undefined &&
        verifier !== undefined &&
        (grantInfo.method === 'S256' ? s256(verifier) : verifier) === grantInfo.challenge;
      if (!ok) reject(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
    }
    codes.delete(body.code);
    redeemedCodes.add(body.code);
    if (body.scope === undefined && grantInfo.scope !== undefined) body.scope = grantInfo.scope;
  } else {
    if (body.refresh_token === undefined) missing('refresh_token');
    if (body.scope === undefined || body.scope.trim() === '') missing('scope');
    const info = refreshTokens.get(body.refresh_token);
    if (!info || info.clientId !== client.id) {
      reject(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed. The refresh token is unknown, was issued to another client, or was already rotated.');
    }
    refreshTokens.delete(body.refresh_token);
  }
}

function checkAuthorizeRequest(query) {
  for (const [k, v] of Object.entries(query)) {
    if (typeof v !== 'string') reject(400, 'invalid_request', 9002313, `Invalid request. Request is malformed or invalid. Parameter '${k}' is repeated.`);
  }
  if (query.client_id === undefined) missing('client_id');
  if (query.client_id !== clientId) notFoundClient(query.client_id);
  if (query.redirect_uri === undefined) missing('redirect_uri');
  if (query.response_type === undefined) missing('response_type');
  if (query.scope === undefined) missing('scope');
  try {
    new URL(query.redirect_uri);
  } catch {
    reject(400, 'invalid_request', 90102, "'redirect_uri' value must be a valid absolute URI.");
  }
}

// ---- library hooks -------------------------------------------------------

service.on('beforeAuthorizeRedirect', ({ url }, req) => {
  const code = url.searchParams.get('code');
  if (code === null) return;
  const q = req.query;
  codes.set(code, {
    clientId: q.client_id,
    redirectUri: q.redirect_uri,
    scope: q.scope,
    challenge: q.code_challenge || undefined,
    method: q.code_challenge_method ?? 'plain',
  });
});

service.on('beforeTokenSigning', (token, req) => {
  // The library signs the access token first, then (for user grants) the id_token.
  req.peerSigned = (req.peerSigned ?? 0) + 1;
  const p = token.payload;
  p.exp = p.iat + expiresIn;
  p.tid = tenant;
  p.ver = '2.0';
  if (req.peerSigned === 1) {
    p.azp = req.peerClientId;
    p.appid = req.peerClientId;
    if (req.peerGrant === 'client_credentials') {
      p.sub = req.peerClientId;
      p.aud = req.peerResource;
    } else {
      p.upn = mailbox;
      p.preferred_username = mailbox;
    }
  } else {
    p.aud = req.peerClientId;
    p.preferred_username = mailbox;
    p.email = mailbox;
    p.name = mailbox;
  }
});

service.on('beforeResponse', (response, req) => {
  if (response.statusCode !== 200) return;
  response.body.expires_in = expiresIn;
  response.body.ext_expires_in = expiresIn;
  if (flags['access-token'] !== undefined) response.body.access_token = flags['access-token'];
  const rt = response.body.refresh_token;
  if (typeof rt === 'string') refreshTokens.set(rt, { clientId: req.peerClientId, scope: response.body.scope });
});

// ---- front handler -------------------------------------------------------

async function handle(req, res) {
  const url = new URL(req.url, `http://${HOST}`);
  const path = url.pathname;
  const ms = MS_PATH.exec(path);
  const isToken = ms && ms[2].toLowerCase() === 'oauth2/v2.0/token';
  const isAuthorize = ms && ms[2].toLowerCase() === 'oauth2/v2.0/authorize';

  let raw = '';
  if (isToken) raw = await readBody(req);
  const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const body = isToken && contentType === 'application/x-www-form-urlencoded' ? formFields(new URLSearchParams(raw)) : {};
  const query = formFields(url.searchParams);

  if (isToken || isAuthorize) {
    const entry = { path, method: req.method, headers: req.headers, query, body };
    if (isToken && contentType !== 'application/x-www-form-urlencoded' && raw !== '') entry.raw_body = raw;
    record(entry);
  }

  if (ms && ms[1].toLowerCase() !== tenant) {
    reject(400, 'invalid_request', 90002, `Tenant '${ms[1]}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
  }
  if (isToken) {
    if (req.method === 'OPTIONS') return service.requestHandler(req, res);
    if (req.method !== 'POST') {
      reject(400, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${req.method} request.`);
    }
    checkTokenRequest(req, body);
    req.body = body; // the stream is consumed, so the library's body parsers leave this alone
  } else if (isAuthorize && req.method === 'GET') {
    checkAuthorizeRequest(query);
  }
  service.requestHandler(req, res);
}

const server = createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => log(`${req.method} ${req.url.split('?')[0]} -> ${res.statusCode} (${Date.now() - started} ms)`));
  handle(req, res).catch((err) => {
    if (!(err instanceof PeerError)) {
      log('unexpected error:', err);
      err = new PeerError(500, 'server_error', 90033, 'A transient error has occurred. Please try again.');
    }
    if (res.headersSent) res.destroy();
    else sendError(res, err);
  });
});

let boundPort = port;
server.on('error', (err) => {
  log(`server error: ${err.message}`);
  process.exit(1);
});
server.listen(port, HOST, () => {
  boundPort = server.address().port;
  issuer.url = `http://${HOST}:${boundPort}`;
  log(`listening on http://${HOST}:${boundPort}, tenant ${tenant}, client ${clientId}, ` +
    `secret ${clientSecret === undefined ? 'none' : 'set'}, ${certs.length} certificate(s), mailbox ${mailbox}, ` +
    `token lifetime ${expiresIn}s, token endpoint ${issuer.url}${paths.token}`);
  process.stdout.write(`READY ${boundPort}\n`);
});

function shutdown(signal) {
  log(`${signal}: stopping`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (flags['exit-on-stdin-close']) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
