// Whether this browser lets a page framed by a relying party keep cookies of
// the provider: the check Keycloak's JavaScript adapter (keycloak-js) makes at
// .../protocol/openid-connect/3p-cookies/step1.html before it uses the
// session iframe. Step 1 sets a short-lived cookie and goes to step 2; step 2
// tells the framing page "supported" or "unsupported" and removes the cookie.
// The answer carries nothing secret, so it may go to any origin.
(function () {
  "use strict";
  var body = document.body;
  var step = body.getAttribute("data-step");
  var path = body.getAttribute("data-path");
  var name = "OIDC_3P_COOKIE_CHECK";
  // Cross-site frames keep only SameSite=None cookies, which browsers accept only with Secure.
  var attributes = "; Path=" + path + (location.protocol === "https:" ? "; SameSite=None; Secure" : "; SameSite=Lax");
  if (step === "1") {
    document.cookie = name + "=supported; Max-Age=60" + attributes;
    location.replace("step2.html");
    return;
  }
  var found = (document.cookie ? document.cookie.split(";") : []).some(function (c) {
    return c.replace(/^\s+/, "").indexOf(name + "=supported") === 0;
  });
  document.cookie = name + "=; Max-Age=0" + attributes;
  window.parent.postMessage(found ? "supported" : "unsupported", "*");
})();
