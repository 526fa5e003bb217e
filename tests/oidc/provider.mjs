// A real OpenID provider (panva's oidc-provider) on loopback, for Chorus's
// SSO tests (tests/api/sso.rs). It listens on 127.0.0.1 on a free port and
// prints one JSON line {"issuer": "..."} to stdout once it accepts requests.
//
// Settings (environment): CLIENT_ID, CLIENT_SECRET. The client is registered
// as "native" with http://127.0.0.1/login/oidc/callback, so Chorus may run on
// any loopback port (RFC 8252 §7.3) and be started after the provider.
//
// Instead of a login form, the test "types" the person's login by asking
// GET /interaction/<uid>/login?account=<id>, which finishes login and consent
// at once; GET /interaction/<uid>/abort answers Chorus with access_denied.
import http from 'node:http';
import Provider from 'oidc-provider';

// Who can sign in here: verified and unverified addresses, with and
// without a department claim.
const ACCOUNTS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Aalto', department: 'Engineering' },
  bob: { email: 'bob@example.com', email_verified: false, name: 'Bob Unverified', department: 'Sales' },
  carol: { email: 'carol@example.com', email_verified: true, name: 'Carol Chen', department: 'Sales' },
  ada: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace' },
  dora: { email: 'dora@example.com', email_verified: true, name: 'Dora Deactivated' },
  admin: { email: 'admin@example.com', email_verified: true, name: 'Ann Admin' },
};

const need = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`provider.mjs: set ${name}`);
    process.exit(2);
  }
  return value;
};
const clientId = need('CLIENT_ID');
const clientSecret = need('CLIENT_SECRET');
const redirectUri = 'http://127.0.0.1/login/oidc/callback';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: ['http://127.0.0.1/login'],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    cookies: { keys: ['chorus-test-provider-cookie-key'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'department'],
    },
    // The scope's claims go into the ID token too (Chorus reads the ID token).
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...account };
        },
      };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('provider server_error', err));

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
    if (!match || req.method !== 'GET') {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const action = match[2];
      if (action === 'login') {
        const accountId = url.searchParams.get('account');
        if (!ACCOUNTS[accountId]) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('no such account\n');
          return;
        }
        const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, {
          login: { accountId },
          consent: { grantId },
        }, { mergeWithLastSubmission: false });
      } else if (action === 'abort') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'The person cancelled the sign-in.',
        }, { mergeWithLastSubmission: false });
      } else {
        const links = Object.keys(ACCOUNTS)
          .map((id) => `<li><a href="/interaction/${details.uid}/login?account=${id}">${id}</a></li>`)
          .join('');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(`<!doctype html><title>Test provider</title><h1>Sign in as</h1><ul>${links}</ul>`
            + `<p><a href="/interaction/${details.uid}/abort">Cancel</a></p>`);
      }
    } catch (err) {
      console.error('interaction failed', err);
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`interaction failed: ${err.message}\n`);
    }
  });
  console.log(JSON.stringify({ issuer }));
});

// The test kills the process; end cleanly on SIGTERM too.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
