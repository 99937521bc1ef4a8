// The OAuth consent popup's last page: tell the settings page that opened it how the sign-in
// went (same origin only), then close. Without an opener the page itself says what happened.
(function () {
  var result = document.getElementById('consent');
  if (!result || !window.opener) return;
  // As JSON text: the settings page parses it with the same serde code as everything else.
  window.opener.postMessage(
    JSON.stringify({
      type: 'outmail-consent',
      ok: result.dataset.ok === 'true',
      profile: result.dataset.profile,
      message: result.dataset.message,
    }),
    window.location.origin
  );
  window.close();
})();
