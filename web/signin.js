// Patient Service Center: where the hospital's sign-in comes back to
// (signin.html). It hands the chat page that opened it the code and state
// (never to another origin), then closes: the chat page alone holds the
// code's PKCE verifier, swaps the code for a token and checks it.
(() => {
  'use strict';
  const q = new URLSearchParams(location.search);
  const answer = { type: 'psc-signin', state: q.get('state') || '', code: q.get('code') || '', error: q.get('error') || '' };
  // The code is single-use and bound to the verifier; keep it out of the
  // history all the same.
  history.replaceState(null, '', location.pathname);
  let told = false;
  if (window.opener) {
    try { window.opener.postMessage(answer, location.origin); told = true; } catch { /* a closed or cross-origin opener */ }
  }
  if ('BroadcastChannel' in window) {
    const ch = new BroadcastChannel('psc-signin');
    ch.postMessage(answer);
    ch.close();
    told = true;
  }
  const status = document.getElementById('signin-status');
  if (!told || answer.error) {
    status.innerHTML = '<span lang="en">The sign-in did not finish. Please close this window and try again from the chat.</span> ' +
      '<span lang="es">No se completó el inicio de sesión. Cierre esta ventana e inténtelo de nuevo desde el chat.</span>';
    return;
  }
  status.innerHTML = '<span lang="en">You are signed in. You can close this window.</span> <span lang="es">Inició sesión. Puede cerrar esta ventana.</span>';
  window.close();
})();
