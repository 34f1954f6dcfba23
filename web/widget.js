// Patient Service Center chat widget. A hospital site embeds it with one tag:
//   <script src="https://<host>/widget.js" async data-lang="en"
//           data-title="Chat with us" data-position="right" data-color="#0b5cad"></script>
// data-lang (en or es; default: the page's own <html lang>) sets the
// widget's words and the chat's first language.
// It adds a floating launcher that opens a panel with the hosted chat page
// (index.html?embed=1 beside this script) in an iframe. Everything lives in
// a shadow root, so no CSS leaks in either direction, and nothing is global.
(() => {
  'use strict';

  const HOST_ID = 'psc-chat-widget';
  // currentScript is set for classic scripts, async ones included.
  const script = document.currentScript ||
    [...document.querySelectorAll('script[src]')].reverse().find((s) => /\/widget\.js([?#]|$)/.test(s.src));
  if (!script || document.getElementById(HOST_ID)) return;   // loaded twice: keep the first

  // The widget's own words, in the page's language.
  const WORDS = {
    en: { title: 'Chat with us', close: 'Close chat' },
    es: { title: 'Chatee con nosotros', close: 'Cerrar el chat' },
  };
  const asked = (script.dataset.lang || document.documentElement.lang || '').toLowerCase();
  const lang = asked.startsWith('es') ? 'es' : 'en';
  const words = WORDS[lang];
  const chatUrl = new URL('index.html?embed=1&lang=' + lang, script.src).href;
  const chatOrigin = new URL(chatUrl).origin;
  const title = (script.dataset.title || '').trim() || words.title;
  const side = script.dataset.position === 'left' ? 'left' : 'right';
  const wanted = (script.dataset.color || '').trim();
  const color = wanted && CSS.supports('color', wanted) ? wanted : '#0b5cad';

  const css = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    .launcher, .panel { position: fixed; z-index: 2147483000; ${side}: 20px; }
    .launcher {
      bottom: 20px;
      display: inline-flex; align-items: center; gap: 8px;
      min-height: 48px; max-width: calc(100vw - 24px); padding: 0 18px;
      font: 600 16px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
      color: var(--psc-fg); background: var(--psc-bg);
      border: 2px solid var(--psc-fg); border-radius: 24px;
      box-shadow: 0 4px 14px rgba(0, 0, 0, .25); cursor: pointer;
    }
    .launcher svg { width: 22px; height: 22px; flex: none; fill: currentColor; }
    .launcher span { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .launcher:focus-visible, .close:focus-visible {
      outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 3px #fff;
    }
    .panel {
      bottom: 84px;
      width: 380px; max-width: calc(100vw - 24px);
      height: 600px; max-height: calc(100vh - 108px); max-height: calc(100dvh - 108px);
      display: flex; flex-direction: column;
      background: #fff; border-radius: 12px; overflow: hidden;
      box-shadow: 0 8px 30px rgba(0, 0, 0, .3);
    }
    .bar {
      display: flex; align-items: center; justify-content: space-between; gap: 8px;
      padding: 6px 6px 6px 16px;
      font: 600 16px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
      color: var(--psc-fg); background: var(--psc-bg);
    }
    .close {
      width: 44px; height: 44px; flex: none;
      font: 400 28px/1 system-ui, sans-serif; color: inherit;
      background: transparent; border: 0; border-radius: 8px; cursor: pointer;
    }
    iframe { flex: 1; width: 100%; border: 0; background: #fff; }
    @media (max-width: 480px) {
      .launcher { ${side}: 12px; bottom: 12px; }
      .panel { ${side}: 8px; width: calc(100vw - 16px); max-width: none; bottom: 72px;
               height: calc(100vh - 84px); height: calc(100dvh - 84px); max-height: none; }
    }
    @media (prefers-reduced-motion: no-preference) {
      .panel:not([hidden]) { animation: psc-in .15s ease-out; }
      @keyframes psc-in { from { opacity: 0; transform: translateY(8px); } }
    }
    @media (forced-colors: active) { .panel { border: 1px solid CanvasText; } }
  `;

  function mount() {
    const host = document.createElement('div');
    host.id = HOST_ID;
    const root = host.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${css}</style>
      <div class="panel" id="psc-panel" role="dialog" hidden>
        <div class="bar"><span class="title"></span>
          <button type="button" class="close"><span aria-hidden="true">×</span></button>
        </div>
      </div>
      <button type="button" class="launcher" aria-expanded="false" aria-controls="psc-panel">
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>
        <span></span>
      </button>`;
    const panel = root.querySelector('.panel');
    const launcher = root.querySelector('.launcher');
    const closeButton = root.querySelector('.close');
    // Titles go in as text, never as markup; the words are read in their
    // language.
    host.lang = lang;
    closeButton.setAttribute('aria-label', words.close);
    root.querySelector('.title').textContent = title;
    launcher.querySelector('span').textContent = title;
    panel.setAttribute('aria-label', title);
    // Inline !important beats any host-page rule that would match our element
    // (a page transform, for one, would break position: fixed inside).
    host.setAttribute('style', 'all: initial !important');
    // Custom properties carry the colours: no page-supplied string reaches the style sheet.
    host.style.setProperty('--psc-bg', color);
    document.body.append(host);
    host.style.setProperty('--psc-fg', readableOn(root, color));

    let frame = null;

    function open() {
      if (!frame) {
        // Created on first open, so pages where nobody chats cost the chat service nothing.
        frame = document.createElement('iframe');
        frame.title = title;
        frame.src = chatUrl;
        frame.addEventListener('load', () => { if (!panel.hidden) frame.focus(); });
        panel.append(frame);
      }
      panel.hidden = false;
      launcher.setAttribute('aria-expanded', 'true');
      frame.focus();
    }

    // The iframe stays loaded while closed, so the conversation carries on.
    function close(returnFocus) {
      if (panel.hidden) return;
      panel.hidden = true;
      launcher.setAttribute('aria-expanded', 'false');
      if (returnFocus) launcher.focus();
    }

    launcher.addEventListener('click', () => (panel.hidden ? open() : close(false)));
    closeButton.addEventListener('click', () => close(true));
    root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !panel.hidden) {
        e.stopPropagation();
        close(true);
      }
    });
    // Escape pressed inside the chat page arrives as a message from the iframe.
    window.addEventListener('message', (e) => {
      if (frame && e.source === frame.contentWindow && e.origin === chatOrigin &&
          e.data && e.data.type === 'psc:close') close(true);
    });
  }

  // Picks white or near-black text, whichever contrasts more with the colour.
  function readableOn(root, c) {
    const probe = document.createElement('i');
    probe.style.color = c;
    root.append(probe);
    const rgb = (getComputedStyle(probe).color.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map(Number);
    probe.remove();
    const [r, g, b] = rgb.map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    return 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0556 ? '#fff' : '#111';
  }

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
