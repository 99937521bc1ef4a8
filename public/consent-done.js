// The OAuth consent popup's last page: tell the settings page that opened it how the sign-in
// went (same origin only), then close. Without an opener the page itself says what happened.
(function () {
  var result = document.getElementById('consent');
  if (!result || !window.opener) return;
  window.opener.postMessage(
    {
      type: 'outmail-consent',
      ok: result.dataset.ok === 'true',
      profile: result.dataset.profile,
      message: result.dataset.message,
    },
    window.location.origin
  );
  window.close();
})();
