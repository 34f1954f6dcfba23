// Patient Service Center: what the pages an emailed link opens (the
// appointment and survey pages) share. PSCLinkPage.open(name, words)
// reads the link (its token and language, kept in this tab for a reload
// and taken out of the address bar and history at once, since anyone at
// the device could reopen it there), puts the page's words in its
// language, and connects to the patient WebSocket API. Plain JavaScript,
// no build step; no token is logged.
(() => {
  'use strict';

  // kept returns the link's value of a parameter, or this tab's copy of
  // it when the address no longer has one (a reload).
  function kept(key, fromURL) {
    let v = fromURL || '';
    try {
      if (v) sessionStorage.setItem(key, v);
      else v = sessionStorage.getItem(key) || '';
    } catch { /* storage blocked: the page works until it is left */ }
    return v;
  }

  function open(name, words) {
    const params = new URLSearchParams(location.search);
    const lang = kept(`psc-${name}-lang`, params.get('lang')) === 'es' ? 'es' : 'en';
    const token = kept(`psc-${name}-link`, params.get('t'));
    if (params.get('t')) history.replaceState(null, '', location.pathname);
    const W = words[lang];
    return {
      lang, token, W,
      // translate puts the page's marked texts (data-i18n) in its language.
      translate() {
        document.documentElement.lang = lang;
        document.title = W.title;
        for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = W[node.dataset.i18n];
      },
      // connect opens the patient API and hands it each frame; it returns
      // the socket, or null with the reason shown by fail (in the page's
      // words) when there is no link or the service cannot be reached.
      async connect({ onOpen, onFrame, onClose, fail }) {
        if (!token) { fail(W.needsLink); return null; }
        let config;
        try {
          config = await (await fetch('config.json', { cache: 'no-store' })).json();
        } catch {
          fail(W.unreachable);
          return null;
        }
        const sock = new WebSocket(config.patientWebSocketUrl);
        sock.onopen = onOpen;
        sock.onmessage = (e) => { let f; try { f = JSON.parse(e.data); } catch { return; /* not a frame */ } onFrame(f); };
        sock.onclose = onClose;
        return sock;
      },
    };
  }

  window.PSCLinkPage = { version: '1.0.0', open };
})();
