// The logged-out page: every front-channel logout iframe (Front-Channel
// Logout 1.0 §4) gets a chance to load before the browser goes on to the
// relying party's post_logout_redirect_uri.
(function () {
  "use strict";
  var box = document.getElementById("frontchannel");
  if (!box) { return; }
  var target = box.getAttribute("data-redirect");
  if (!target) { return; }
  var frames = box.getElementsByTagName("iframe");
  var left = frames.length;
  var gone = false;
  function go() {
    if (!gone) { gone = true; window.location.assign(target); }
  }
  for (var i = 0; i < frames.length; i++) {
    frames[i].addEventListener("load", function () { left -= 1; if (left <= 0) { go(); } });
  }
  // A dead relying party must not keep the user here.
  window.setTimeout(go, 3000);
})();
