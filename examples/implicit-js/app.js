// The seed's "Pure JS client using Implicit Flow", without jQuery or any
// other external script: discovery, an authorization request with
// response_type "id_token token", the checks a browser RP must make on the
// response (state, and the id_token's nonce, iss, aud and exp; OIDC Core
// §3.2.2.11), then the UserInfo request with the access token.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var store = window.sessionStorage;

  function fail(message) {
    $("error").textContent = message;
    $("error").hidden = false;
  }

  function random() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function base64urlJson(part) {
    var b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    return JSON.parse(decodeURIComponent(escape(window.atob(b64))));
  }

  function discover(issuer) {
    return fetch(issuer.replace(/\/$/, "") + "/.well-known/openid-configuration").then(function (r) {
      if (!r.ok) { throw new Error("discovery answered " + r.status); }
      return r.json();
    });
  }

  // Settings come from the query (?issuer=..&client_id=..) or the inputs.
  var query = new URLSearchParams(window.location.search);
  $("issuer").value = query.get("issuer") || store.getItem("issuer") || "";
  $("client-id").value = query.get("client_id") || store.getItem("client_id") || "";

  $("login-button").addEventListener("click", function () {
    var issuer = $("issuer").value.trim();
    var clientId = $("client-id").value.trim();
    if (!issuer || !clientId) { fail("Enter the issuer and the client ID."); return; }
    discover(issuer).then(function (provider) {
      var state = random(), nonce = random();
      store.setItem("issuer", provider.issuer);
      store.setItem("client_id", clientId);
      store.setItem("state", state);
      store.setItem("nonce", nonce);
      store.setItem("userinfo_endpoint", provider.userinfo_endpoint);
      var redirectUri = window.location.origin + window.location.pathname;
      var params = new URLSearchParams({
        client_id: clientId,
        redirect_uri: redirectUri,
        response_type: "id_token token",
        scope: "openid profile email",
        state: state,
        nonce: nonce
      });
      window.location.assign(provider.authorization_endpoint + "?" + params.toString());
    }).catch(function (e) { fail("Discovery failed: " + e.message); });
  });

  // Back from the provider: the response is in the fragment.
  if (!window.location.hash) { return; }
  var response = new URLSearchParams(window.location.hash.substring(1));
  window.history.replaceState(null, "", window.location.pathname);
  if (response.get("error")) { fail(response.get("error") + ": " + (response.get("error_description") || "")); return; }
  if (response.get("state") !== store.getItem("state")) { fail("The state does not match: ignoring the response."); return; }
  var idToken = response.get("id_token"), token = response.get("access_token");
  if (!idToken || !token) { fail("The response has no id_token or access_token."); return; }
  var claims = base64urlJson(idToken.split(".")[1]);
  if (claims.nonce !== store.getItem("nonce")) { fail("The id_token's nonce does not match."); return; }
  if (claims.iss !== store.getItem("issuer")) { fail("The id_token comes from another issuer."); return; }
  var aud = [].concat(claims.aud);
  if (aud.indexOf(store.getItem("client_id")) < 0) { fail("The id_token is for another client."); return; }
  if (claims.exp * 1000 < Date.now()) { fail("The id_token has expired."); return; }
  store.removeItem("state");
  store.removeItem("nonce");
  $("id-token").textContent = JSON.stringify(claims, null, 2);
  // Make userinfo request using access_token (in the header: RFC 6750 §2.1).
  fetch(store.getItem("userinfo_endpoint"), { headers: { Authorization: "Bearer " + token } })
    .then(function (r) {
      if (!r.ok) { throw new Error("userinfo answered " + r.status); }
      return r.json();
    })
    .then(function (info) {
      $("userinfo").textContent = JSON.stringify(info, null, 2);
      $("result").hidden = false;
    })
    .catch(function (e) { fail("UserInfo failed: " + e.message); });
})();
