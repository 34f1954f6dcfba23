// Patient Service Center: the agent console (agent/index.html).
// Plain JavaScript, no build step. Signs in against the agent user pool's
// API (Cognito InitiateAuth, USER_PASSWORD_AUTH), connects to the agent
// WebSocket API with the ID token, and speaks the agent protocol.
// Privacy: never log message text, names or tokens; the token lives in
// memory only.
(() => {
  'use strict';

  const VERSION = '1.0.0';
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const TYPING_EVERY_MS = 3000;

  const $ = (id) => document.getElementById(id);
  const el = {
    error: $('error'), signIn: $('sign-in'), signInForm: $('sign-in-form'), username: $('username'), password: $('password'),
    signInButton: $('sign-in-button'), who: $('who'), agentName: $('agent-name'), presence: $('presence'),
    connection: $('connection'), signOut: $('sign-out'), console: $('console'), offers: $('offers'), offerCount: $('offer-count'),
    conversations: $('conversations'), noConversations: $('no-conversations'), workspace: $('workspace'),
    workspaceHeading: $('workspace-heading'), messages: $('messages'), typing: $('typing'), composer: $('composer'),
    input: $('message-input'), send: $('send'), context: $('context'), closeButton: $('close-conversation'),
    closeDialog: $('close-dialog'), closeForm: $('close-form'), disposition: $('disposition'), closeCancel: $('close-cancel'),
  };

  let config = null;
  let token = '';
  let tokenExpires = 0;
  let sock = null;
  let connected = false;
  let attempt = 0;
  let retryTimer = 0;
  let reqSeq = 0;
  let msgSeq = 0;
  let lastTypingSent = 0;
  const requests = new Map();          // requestId -> {action, conversationId}
  const offers = new Map();            // conversationId -> offer frame (+ timer)
  const convs = new Map();             // conversationId -> {id, patient, state, summary, queue, priority, language, messages: Map}
  let current = '';                    // the conversation shown

  // ---- configuration and sign-in ----

  async function loadConfig() {
    const res = await fetch('../config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('config.json: HTTP ' + res.status);
    const c = await res.json();
    if (!c.agentWebSocketUrl || !c.agentPool || !c.agentPool.clientId) throw new Error('config.json lacks the agent settings');
    return c;
  }

  function poolEndpoint() {
    return config.agentPool.endpoint || ('https://cognito-idp.' + config.agentPool.region + '.amazonaws.com/');
  }

  async function signIn(username, password) {
    const res = await fetch(poolEndpoint(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
      body: JSON.stringify({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: config.agentPool.clientId, AuthParameters: { USERNAME: username, PASSWORD: password } }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const type = String(body.__type || '');
      if (type.includes('NotAuthorized') || type.includes('UserNotFound')) throw new Error('The username or password is not right.');
      throw new Error('Sign-in failed. Please try again.');
    }
    if (body.ChallengeName) throw new Error('Your account needs a new password; ask an administrator.');
    const result = body.AuthenticationResult || {};
    if (!result.IdToken) throw new Error('Sign-in failed. Please try again.');
    return { token: result.IdToken, expiresIn: Number(result.ExpiresIn) || 3600 };
  }

  function tokenClaims(t) {
    try {
      let part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      part += '='.repeat((4 - part.length % 4) % 4);
      const bytes = Uint8Array.from(atob(part), (ch) => ch.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch { return {}; }
  }

  async function onSignIn(e) {
    e.preventDefault();
    clearError();
    const username = el.username.value.trim();
    const password = el.password.value;
    if (!username || !password) { showError('Enter your username and password.'); return; }
    el.signInButton.disabled = true;
    try {
      if (!config) config = await loadConfig();
      const r = await signIn(username, password);
      token = r.token;
      tokenExpires = Date.now() + r.expiresIn * 1000;
      el.password.value = '';
      const claims = tokenClaims(token);
      el.agentName.textContent = claims.name || claims['cognito:username'] || username;
      el.signIn.hidden = true;
      el.who.hidden = false;
      el.console.hidden = false;
      connect();
    } catch (err) {
      showError(err.message || 'Sign-in failed.');
    } finally {
      el.signInButton.disabled = false;
    }
  }

  function signOut(message) {
    token = '';
    clearTimeout(retryTimer);
    if (sock) { const s = sock; sock = null; s.close(); }
    connected = false;
    for (const o of offers.values()) clearInterval(o.timer);
    offers.clear();
    convs.clear();
    current = '';
    renderOffers();
    renderConversations();
    el.workspace.hidden = true;
    el.console.hidden = true;
    el.who.hidden = true;
    el.signIn.hidden = false;
    if (message) showError(message);
    el.username.focus();
  }

  // ---- connection ----

  function connect() {
    clearTimeout(retryTimer);
    if (!token) return;
    if (Date.now() > tokenExpires) { signOut('Your sign-in has expired. Please sign in again.'); return; }
    const url = new URL(config.agentWebSocketUrl);
    url.searchParams.set('token', token);
    let opened = false;
    let ws;
    try { ws = new WebSocket(url.href); } catch { scheduleReconnect(); return; }
    sock = ws;
    ws.onopen = () => {
      if (sock !== ws) return;
      opened = connected = true;
      attempt = 0;
      renderConnection();
      request({ action: 'presence', status: el.presence.value });
    };
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f.type === 'string') handle(f);
    };
    ws.onclose = () => {
      if (sock !== ws) return;
      sock = null;
      connected = false;
      requests.clear();
      renderConnection();
      // A handshake refused outright is the token (expired, revoked).
      if (!opened && attempt >= 2) { signOut('The console could not connect with your sign-in. Please sign in again.'); return; }
      scheduleReconnect();
    };
    renderConnection();
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
    attempt++;
    retryTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }

  function request(frame, meta = {}) {
    if (!connected) { showError('Not connected; trying again…'); return false; }
    const requestId = 'r' + (++reqSeq);
    requests.set(requestId, { action: frame.action, ...meta });
    sock.send(JSON.stringify({ ...frame, requestId }));
    return true;
  }

  // ---- server frames ----

  function handle(f) {
    const req = f.requestId ? requests.get(f.requestId) : undefined;
    if (req) requests.delete(f.requestId);
    switch (f.type) {
      case 'presence':
        el.presence.value = f.status;
        if (f.status === 'away' && !req) showError('You were set to Away because an offer was not answered in time.');
        break;
      case 'offer': addOffer(f); break;
      case 'assigned': onAssigned(f); break;
      case 'message': addMessage(f); break;
      case 'ack': break;
      case 'typing': if (f.conversationId === current && f.role === 'patient') showTyping(); break;
      case 'status': onStatus(f); break;
      case 'error': onError(f, req); break;
    }
  }

  function onError(f, req) {
    if (req && (req.action === 'accept' || req.action === 'decline')) removeOffer(req.conversationId);
    const messages = {
      conflict: 'That offer is no longer yours (it was taken back or has expired).',
      forbidden: 'You are not allowed to do that.',
      rate_limited: 'Too many actions at once; please wait a moment.',
      unauthorized: 'Your sign-in has expired. Please sign in again.',
    };
    if (f.code === 'unauthorized') { signOut(messages.unauthorized); return; }
    showError(messages[f.code] || f.message || 'Something went wrong.');
  }

  // ---- offers ----

  function addOffer(f) {
    if (offers.has(f.conversationId) || convs.has(f.conversationId)) return;
    const o = { ...f };
    offers.set(f.conversationId, o);
    o.timer = setInterval(() => {
      if (Date.parse(o.expiresAt) <= Date.now()) removeOffer(o.conversationId);
      else renderOffers();
    }, 1000);
    renderOffers();
  }

  function removeOffer(id) {
    const o = offers.get(id);
    if (!o) return;
    clearInterval(o.timer);
    offers.delete(id);
    renderOffers();
  }

  function renderOffers() {
    el.offers.replaceChildren();
    for (const o of offers.values()) {
      const li = document.createElement('li');
      li.className = 'offer priority-' + o.priority;
      li.dataset.conversationId = o.conversationId;
      const left = Math.max(0, Math.round((Date.parse(o.expiresAt) - Date.now()) / 1000));
      const title = document.createElement('p');
      title.className = 'offer-title';
      title.textContent = o.queue + ' · ' + o.priority + (o.language ? ' · ' + o.language : '');
      const summary = document.createElement('p');
      summary.className = 'offer-summary';
      summary.textContent = o.summary || '';
      const countdown = document.createElement('p');
      countdown.className = 'countdown';
      countdown.textContent = left + ' s left';
      const accept = button('Accept', 'primary accept', () => {
        if (request({ action: 'accept', conversationId: o.conversationId }, { conversationId: o.conversationId })) accept.disabled = true;
      });
      accept.setAttribute('aria-label', 'Accept the ' + o.priority + ' ' + o.queue + ' conversation');
      const decline = button('Decline', 'secondary decline', () => {
        if (request({ action: 'decline', conversationId: o.conversationId }, { conversationId: o.conversationId })) removeOffer(o.conversationId);
      });
      decline.setAttribute('aria-label', 'Decline the ' + o.priority + ' ' + o.queue + ' conversation');
      li.append(title, summary, countdown, accept, decline);
      el.offers.append(li);
    }
    el.offerCount.textContent = String(offers.size);
  }

  function onAssigned(f) {
    const o = offers.get(f.conversationId) || {};
    removeOffer(f.conversationId);
    convs.set(f.conversationId, {
      id: f.conversationId, patient: (f.patient && f.patient.name) || 'Patient', state: 'assigned',
      summary: o.summary || '', queue: o.queue || '', priority: o.priority || '', language: o.language || '', messages: new Map(),
    });
    renderConversations();
    show(f.conversationId);
    el.input.focus();
  }

  // ---- conversations ----

  function renderConversations() {
    el.conversations.replaceChildren();
    for (const c of convs.values()) {
      const li = document.createElement('li');
      const b = button(c.patient + (c.state === 'closed' ? ' (ended)' : ''), 'tab', () => show(c.id));
      b.setAttribute('role', 'tab');
      b.setAttribute('aria-selected', String(c.id === current));
      b.dataset.conversationId = c.id;
      li.append(b);
      el.conversations.append(li);
    }
    el.noConversations.hidden = convs.size > 0;
  }

  function show(id) {
    const c = convs.get(id);
    if (!c) return;
    current = id;
    el.workspace.hidden = false;
    el.workspaceHeading.textContent = 'Conversation with ' + c.patient;
    el.messages.replaceChildren();
    for (const m of [...c.messages.values()].sort((a, b) => a.messageId < b.messageId ? -1 : 1)) el.messages.append(messageItem(m));
    renderContext(c);
    renderComposer(c);
    renderConversations();
    scrollDown();
  }

  function renderContext(c) {
    el.context.replaceChildren();
    for (const [k, v] of [['Name', c.patient], ['Queue', c.queue], ['Priority', c.priority], ['Language', c.language], ['Bot summary', c.summary]]) {
      if (!v) continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      el.context.append(dt, dd);
    }
  }

  function renderComposer(c) {
    const open = c.state === 'assigned';
    el.input.disabled = el.send.disabled = !open;
    el.closeButton.disabled = c.state === 'wrapped';
    el.closeButton.textContent = c.state === 'closed' ? 'Wrap up…' : 'Close…';
  }

  function addMessage(f) {
    const c = convs.get(f.conversationId);
    if (!c || c.messages.has(f.messageId)) return;
    c.messages.set(f.messageId, f);
    if (f.conversationId === current) {
      el.messages.append(messageItem(f));
      el.typing.textContent = '';
      scrollDown();
    }
  }

  function messageItem(m) {
    const li = document.createElement('li');
    const role = (m.from && m.from.role) || 'system';
    li.className = 'msg ' + (role === 'agent' ? 'msg-own' : 'msg-' + role);
    li.dataset.messageId = m.messageId;
    li.dataset.role = role;
    const who = document.createElement('span');
    who.className = 'msg-from';
    who.textContent = role === 'agent' ? 'You' : ((m.from && m.from.name) || role);
    const text = document.createElement('p');
    text.className = 'msg-text';
    text.textContent = m.text;
    li.append(who, text);
    return li;
  }

  function onStatus(f) {
    const c = convs.get(f.conversationId);
    if (!c || f.state !== 'closed') return;
    // Our own close (from this or another console of ours) carries its
    // requestId; the patient ending the chat does not: then we wrap up.
    c.state = f.requestId || c.state === 'closing' ? 'wrapped' : 'closed';
    if (c.state === 'wrapped') {
      convs.delete(c.id);
      if (current === c.id) { current = ''; el.workspace.hidden = true; }
      renderConversations();
      return;
    }
    if (c.id === current) renderComposer(c);
    renderConversations();
  }

  function sendMessage(e) {
    e.preventDefault();
    const c = convs.get(current);
    const text = el.input.value.trim();
    if (!c || !text) return;
    const clientMessageId = 'a' + Date.now().toString(36) + '.' + (++msgSeq);
    if (request({ action: 'send', conversationId: c.id, clientMessageId, text }, { conversationId: c.id })) el.input.value = '';
  }

  function onInput() {
    const now = Date.now();
    if (current && connected && now - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = now;
      sock.send(JSON.stringify({ action: 'typing', conversationId: current }));
    }
  }

  function openClose() {
    if (!convs.get(current)) return;
    el.closeDialog.showModal();
    el.disposition.focus();
  }

  function confirmClose(e) {
    e.preventDefault();
    const c = convs.get(current);
    el.closeDialog.close();
    if (!c) return;
    if (request({ action: 'close', conversationId: c.id, disposition: el.disposition.value }, { conversationId: c.id })) c.state = 'closing';
  }

  // ---- small helpers ----

  function button(label, cls, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'button ' + cls;
    b.textContent = label;
    b.addEventListener('click', onClick);
    return b;
  }

  function showTyping() {
    el.typing.textContent = 'The patient is typing…';
    clearTimeout(showTyping.timer);
    showTyping.timer = setTimeout(() => { el.typing.textContent = ''; }, 4000);
  }

  function scrollDown() {
    const log = el.messages.parentElement;
    log.scrollTop = log.scrollHeight;
  }

  function renderConnection() {
    el.connection.textContent = connected ? 'Connected' : (token ? 'Reconnecting…' : '');
  }

  function showError(m) { el.error.textContent = m; }
  function clearError() { el.error.textContent = ''; }

  // ---- wiring ----

  el.signInForm.addEventListener('submit', onSignIn);
  el.signOut.addEventListener('click', () => signOut(''));
  el.presence.addEventListener('change', () => request({ action: 'presence', status: el.presence.value }));
  el.composer.addEventListener('submit', sendMessage);
  el.input.addEventListener('input', onInput);
  el.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); el.composer.requestSubmit(); }
  });
  el.closeButton.addEventListener('click', openClose);
  el.closeCancel.addEventListener('click', () => el.closeDialog.close());
  el.closeForm.addEventListener('submit', confirmClose);

  window.PSCAgent = { version: VERSION };
})();
