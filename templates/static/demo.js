// The demo relying party: authorization code flow with PKCE (RFC 7636) run from the browser.
(function () {
  "use strict";
  const button = document.getElementById("demo-login");
  const issuer = button.dataset.issuer;
  const clientId = button.dataset.clientId;
  const redirectUri = button.dataset.redirectUri;
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = () => b64url(crypto.getRandomValues(new Uint8Array(32)));
  const show = (msg) => { const e = document.getElementById("demo-error"); e.textContent = msg; e.hidden = false; };
  const decode = (part) => JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));

  // The provider accepts only S256 (RFC 9700 2.1.1); browsers offer SHA-256 only in
  // secure contexts (https, or http on localhost / 127.0.0.1).
  async function challenge(verifier) {
    if (!(window.crypto && crypto.subtle)) {
      throw new Error("This page is not a secure context (use https, or http on localhost), so it cannot compute the S256 PKCE challenge.");
    }
    return { method: "S256", value: b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))) };
  }

  button.addEventListener("click", async () => {
    const meta = await (await fetch(issuer + "/.well-known/openid-configuration")).json();
    const verifier = random(), state = random(), nonce = random();
    let ch;
    try { ch = await challenge(verifier); } catch (e) { show(e.message); return; }
    sessionStorage.setItem("demo", JSON.stringify({ verifier, state, nonce, token: meta.token_endpoint, userinfo: meta.userinfo_endpoint }));
    const q = new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: "code",
      scope: "openid profile email phone address", state, nonce, code_challenge: ch.value, code_challenge_method: ch.method });
    window.location.assign(meta.authorization_endpoint + "?" + q.toString());
  });

  async function finish() {
    const params = new URLSearchParams(window.location.search);
    if (!params.has("code") && !params.has("error")) return;
    const saved = JSON.parse(sessionStorage.getItem("demo") || "null");
    sessionStorage.removeItem("demo");
    history.replaceState(null, "", window.location.pathname);
    if (params.has("error")) return show(params.get("error") + ": " + (params.get("error_description") || ""));
    if (!saved || params.get("state") !== saved.state) return show("state mismatch: this response was not requested here");
    const tokenResponse = await fetch(saved.token, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri,
        client_id: clientId, code_verifier: saved.verifier }) });
    const tokens = await tokenResponse.json();
    if (!tokenResponse.ok) return show(tokens.error + ": " + tokens.error_description);
    const claims = decode(tokens.id_token.split(".")[1]);
    if (claims.nonce !== saved.nonce) return show("nonce mismatch");
    const userinfo = await (await fetch(saved.userinfo, { headers: { Authorization: "Bearer " + tokens.access_token } })).json();
    document.getElementById("demo-id-token").textContent = JSON.stringify(claims, null, 2);
    document.getElementById("demo-userinfo").textContent = JSON.stringify(userinfo, null, 2);
    document.getElementById("demo-result").hidden = false;
  }
  finish().catch((e) => show(String(e)));
})();
