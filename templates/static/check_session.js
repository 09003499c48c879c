// The OP iframe of OpenID Connect Session Management 1.0 §4.2: a relying
// party's page frames it and posts "client_id session_state"; it answers
// "unchanged", "changed" or "error" to that page's origin only.
//
// session_state = hex(SHA-256(client_id " " origin " " browser_state " " salt)) "." salt,
// where browser_state is the OP's browser-state cookie, which changes at every
// login and logout. Keycloak's adapters post "client_id sid" instead; the
// cookie holds the session's sid, so that form is answered too. The (client_id, origin) pair is checked once with the OP:
// the origin must be the origin of one of the client's redirect URIs.
(function () {
  "use strict";
  var body = document.body;
  var cookieName = body.getAttribute("data-cookie");
  var initUrl = body.getAttribute("data-init");
  var allowed = {};

  function browserState() {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].replace(/^\s+/, "");
      if (kv.indexOf(cookieName + "=") === 0) { return kv.substring(cookieName.length + 1); }
    }
    return "";
  }

  // SHA-256 (FIPS 180-4) of a string's UTF-8 bytes, as lower-case hex; written
  // out so that the page works without crypto.subtle (absent on plain http).
  var K = [];
  (function () {
    var n = 2, found = 0;
    function frac(x) { return ((x - Math.floor(x)) * 4294967296) | 0; }
    while (found < 64) {
      var prime = true;
      for (var d = 2; d * d <= n; d++) { if (n % d === 0) { prime = false; break; } }
      if (prime) { K[found++] = frac(Math.pow(n, 1 / 3)); }
      n++;
    }
  })();
  function sha256hex(text) {
    var bytes = unescape(encodeURIComponent(text));
    var len = bytes.length;
    var words = [];
    for (var i = 0; i < len; i++) { words[i >> 2] |= (bytes.charCodeAt(i) & 0xff) << (24 - (i % 4) * 8); }
    words[len >> 2] |= 0x80 << (24 - (len % 4) * 8);
    var total = (((len + 8) >> 6) + 1) * 16;
    for (var j = words.length; j < total; j++) { words[j] = words[j] | 0; }
    words[total - 1] = len * 8;
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Array(64);
    function rotr(x, r) { return (x >>> r) | (x << (32 - r)); }
    for (var block = 0; block < total; block += 16) {
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (var t = 0; t < 64; t++) {
        if (t < 16) {
          w[t] = words[block + t] | 0;
        } else {
          var s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
          var s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
          w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
        }
        var S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
        var S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    var hex = "";
    for (var k = 0; k < 8; k++) { hex += ("00000000" + (h[k] >>> 0).toString(16)).slice(-8); }
    return hex;
  }

  window.addEventListener("message", function (event) {
    // Only a framing page can be answered, and only at its own origin.
    if (!event.source || event.origin === "null" || typeof event.data !== "string") { return; }
    function answer(value) { event.source.postMessage(value, event.origin); }
    var parts = event.data.split(" ");
    if (parts.length !== 2 || !parts[0]) { answer("error"); return; }
    var clientId = parts[0], sessionState = parts[1];
    var dot = sessionState.lastIndexOf(".");
    var key = clientId + " " + event.origin;
    function compare() {
      if (dot < 0) {
        // Keycloak's adapters (keycloak-js) post "client_id sid": the session's
        // public id, which the browser-state cookie holds while the session lasts.
        answer(sessionState !== "" && sessionState === browserState() ? "unchanged" : "changed");
        return;
      }
      var salt = sessionState.substring(dot + 1);
      var expected = sha256hex(clientId + " " + event.origin + " " + browserState() + " " + salt) + "." + salt;
      answer(expected === sessionState ? "unchanged" : "changed");
    }
    if (allowed[key] === true) { compare(); return; }
    if (allowed[key] === false) { answer("error"); return; }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", initUrl + "?client_id=" + encodeURIComponent(clientId) + "&origin=" + encodeURIComponent(event.origin));
    xhr.onload = function () {
      allowed[key] = xhr.status === 204;
      if (allowed[key]) { compare(); } else { answer("error"); }
    };
    xhr.onerror = function () { answer("error"); };
    xhr.send();
  });
})();
