// A strict, OpenID Certified relying party library, openid-client (npm,
// unmodified; on oauth4webapi), against this provider: dynamic client
// registration with an initial access token (RFC 7591), the authorization code
// flow with PKCE S256, state and nonce, driving the provider's login and
// consent forms as a browser would, strict validation of the authorization
// response (RFC 9207 iss) and of the id_token, UserInfo with the expected
// subject, refresh, introspection (RFC 7662), revocation (RFC 7009), and the
// end-session URL (RP-Initiated Logout).
//
// Usage: node openid_client.mjs ISSUER INITIAL_ACCESS_TOKEN USERNAME PASSWORD
// Prints one line per step; exits non-zero on the first failure.
import * as client from "openid-client";

const [issuer, initialAccessToken, username, password] = process.argv.slice(2);
const redirectUri = "http://127.0.0.1:9/cb";

function step(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ": " + detail : ""}`);
  if (!ok) process.exit(1);
}

// A browser: cookies kept per origin path, redirects looked at one by one.
const jar = new Map();
async function browse(url, init = {}) {
  const cookie = [...jar.entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  const headers = new Headers(init.headers || {});
  if (cookie) headers.set("cookie", cookie);
  const res = await fetch(url, { ...init, headers, redirect: "manual" });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const i = pair.indexOf("=");
    const [name, value] = [pair.slice(0, i), pair.slice(i + 1)];
    if (value) jar.set(name, value); else jar.delete(name);
  }
  return res;
}
const unescape = (s) => s.replace(/&#x2f;/g, "/").replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#x27;/g, "'");
function form(html, id) {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) return null;
  const tag = html.lastIndexOf("<form", start);
  const end = html.indexOf("</form>", start);
  const body = html.slice(tag, end);
  const action = unescape(/action="([^"]*)"/.exec(body)[1]);
  const fields = {};
  for (const m of body.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])[1];
    const value = /value="([^"]*)"/.exec(m[0]);
    fields[name] = value ? unescape(value[1]) : "";
  }
  return { action, fields };
}

const options = { execute: [client.allowInsecureRequests], initialAccessToken };
const registered = await client.dynamicClientRegistration(
  new URL(issuer),
  { redirect_uris: [redirectUri], response_types: ["code"], grant_types: ["authorization_code", "refresh_token"],
    token_endpoint_auth_method: "client_secret_basic", client_name: "openid-client" },
  undefined,
  options,
);
const metadata = registered.clientMetadata();
step("dynamic client registration (RFC 7591)", !!metadata.client_id && !!metadata.client_secret, metadata.client_id);
// The client authenticates the way it registered (client_secret_basic); the provider holds it to that.
const config = new client.Configuration(
  registered.serverMetadata(), metadata.client_id, metadata, client.ClientSecretBasic(metadata.client_secret),
);
client.allowInsecureRequests(config);

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope: "openid profile email", state, nonce,
  code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
});

// The user signs in (and consents if asked) in the provider's own pages.
let res = await browse(authUrl);
let html = await res.text();
const login = form(html, "login-form");
step("login page", res.status === 200 && login !== null, res.status);
res = await browse(login.action, { method: "POST", body: new URLSearchParams({ ...login.fields, username, password }) });
let location = res.headers.get("location");
while (location && !location.startsWith(redirectUri)) {
  res = await browse(new URL(location, issuer));
  location = res.headers.get("location");
  if (!location && res.status === 200) {
    html = await res.text();
    const consent = form(html, "consent-form");
    if (!consent) break;
    res = await browse(consent.action, { method: "POST", body: new URLSearchParams({ ...consent.fields, allow: "Authorize" }) });
    location = res.headers.get("location");
  }
}
step("redirected back with a code", !!location && location.startsWith(redirectUri), location);

const tokens = await client.authorizationCodeGrant(config, new URL(location), {
  pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
});
const claims = tokens.claims();
step("code exchange, id_token and iss validated", !!claims && claims.nonce === nonce, claims && claims.sub);

const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
step("UserInfo for the expected subject", info.preferred_username === username, JSON.stringify(info));

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
step("refresh", !!refreshed.access_token && refreshed.access_token !== tokens.access_token);

const active = await client.tokenIntrospection(config, refreshed.access_token);
step("introspection (RFC 7662)", active.active === true && active.sub === claims.sub, JSON.stringify(active));

await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: "refresh_token" });
const after = await client.tokenIntrospection(config, refreshed.access_token);
step("revoking the refresh token ends the grant (RFC 7009)", after.active === false, JSON.stringify(after));
let refused = false;
try {
  await client.refreshTokenGrant(config, refreshed.refresh_token);
} catch (e) {
  refused = e.error === "invalid_grant";
}
step("the revoked refresh token is refused", refused);

const endSession = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token });
step("end-session URL from discovery", endSession.href.startsWith(`${issuer}/protocol/openid-connect/logout`), endSession.href);
