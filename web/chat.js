// Patient Service Center: the patient chat client (index.html).
// Plain JavaScript, no build step. Speaks the patient WebSocket protocol:
// client frames carry "action", server frames carry "type".
// Privacy: never log message text or names.
(() => {
  'use strict';

  const VERSION = '1.0.0';
  const STORE_KEY = 'psc.session';
  const MAX_TEXT = 2000;              // the server's limit, in Unicode code points
  const TYPING_EVERY_MS = 3000;
  const TYPING_SHOW_MS = 4000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const RATE_LIMIT_RETRY_MS = 5000;

  const $ = (id) => document.getElementById(id);
  const el = {
    error: $('error'), startSection: $('start-section'), startForm: $('start-form'), name: $('name'),
    nameError: $('name-error'), topic: $('topic'), locale: $('locale'), start: $('start'),
    chat: $('chat'), status: $('status'), end: $('end'), messages: $('messages'), typing: $('typing'),
    survey: $('survey'), surveyQuestion: $('survey-question'), surveyScale: $('survey-scale'),
    surveyComment: $('survey-comment'), surveySubmit: $('survey-submit'), surveyThanks: $('survey-thanks'),
    composer: $('composer'), input: $('message-input'), counter: $('counter'), send: $('send'),
    newConversation: $('new-conversation'), transcript: $('transcript'), emailTranscript: $('email-transcript'), transcriptNote: $('transcript-note'),
    signIn: $('sign-in'), signInNote: $('signin-note'),
  };

  const params = new URLSearchParams(location.search);
  const embedded = params.get('embed') === '1';

  // saved = {session, conversationId, patientId, lastMessageId, pending: [{clientMessageId, text, tries}]}
  let saved = load();
  let wsUrl = '';
  let sock = null;
  let connected = false;
  let everConnected = false;
  let attempt = 0;
  let retryTimer = 0;
  let startFrame = null;       // a start waiting for the socket to open
  let startLocale = 'en';      // the language the conversation is started in
  let starting = false;        // start sent, session not yet received
  let seenAll = false;         // the log shows every message up to saved.lastMessageId
  let state = '';
  // stateAt: when the state shown was taken, by the server's clock (the
  // frames' "at"). A conversation's frames may arrive out of order (pushed
  // by different functions, a push retried): an older state is dropped,
  // and a frame without "at" (a queue position update) never changes the
  // state shown, only the position while waiting.
  let stateAt = 0;
  let statusText = '';
  let agentName = '';
  let lastTypingSent = 0;
  let typingTimer = 0;
  let reqSeq = 0;
  const requests = new Map();  // requestId -> {action, clientMessageId?}
  let survey = null;           // {id, score}
  let verified = false;        // the patient proved who they are (identity "verified")
  let signInConf = null;       // config.json's patientSignIn: the hospital's sign-in, if the center has it
  let signInWait = null;       // {state, nonce, verifier} of the sign-in under way

  // ---- the page's own words, in the conversation's language ----
  // The start form follows the language chosen in it; a conversation, the
  // language it was started in (kept with the session).

  const WORDS = {
    en: {
      skip: 'Skip to chat', title: 'Patient Service Center', tagline: 'Chat with our virtual assistant and care team.',
      startHeading: 'Start a conversation',
      notice: '<strong>In an emergency, call 911.</strong> In a mental-health crisis, call or text 988. This chat is not for emergencies.',
      nameLabel: 'Your name <span class="required">(required)</span>', nameError: 'Please enter your name.',
      topicLabel: 'What can we help you with? <span class="optional">(optional)</span>', localeLabel: 'Language', start: 'Start chat',
      chatHeading: 'Conversation', end: 'End conversation', log: 'Messages', surveyQuestion: 'How would you rate this conversation?',
      surveyComment: 'Comments <span class="optional">(optional)</span>', surveySubmit: 'Send feedback', surveyThanks: 'Thank you for your feedback.',
      messageLabel: 'Your message', composerHelp: 'Enter to send, Shift+Enter for a new line.', send: 'Send', newConversation: 'Start a new conversation',
      bot: 'Chatting with our virtual assistant', waiting: 'Waiting for an agent', waitingAt: (n) => `Waiting for an agent — you are number ${n} in line`,
      recentWait: (m) => (m < 1 ? 'Lately people waited less than a minute in this line.' : `Lately people waited about ${m} minute${m === 1 ? '' : 's'} in this line.`),
      withAgent: (name) => `You are chatting with ${name}`, withAnAgent: 'You are chatting with an agent', closed: 'This conversation has ended',
      reconnecting: 'Reconnecting…', connecting: 'Connecting…', botTyping: 'The assistant is typing…', agentTyping: 'Agent is typing…',
      you: 'You', assistant: 'Virtual assistant', agent: 'Agent', suggested: 'Suggested replies', outOf: (i, n) => `${i} out of ${n}`,
      sending: ['sent', 'Sending…'], delivered: ['delivered', 'Delivered'], notSent: ['not sent', 'Not sent'],
      expired: 'Your previous conversation has expired. Please start a new one.',
      interrupted: 'The connection was interrupted. Please press "Start chat" again.',
      unreachable: 'We cannot reach the chat service right now. Still trying…', wrong: 'Something went wrong. Please try again.',
      tooLong: (n, max) => `Your message is ${n} characters long; the limit is ${max}. Please shorten it or send it in parts.`,
      chooseScore: 'Please choose a score before sending your feedback.', offline: 'You are offline. Please try again in a moment.',
      noServer: 'The chat is unavailable: this page could not find the chat server address. Please try again later or call us.',
      transcript: 'Download transcript', transcriptTitle: 'Patient Service Center: your conversation',
      transcriptTimes: (zone) => `Times are this device's (${zone}). Downloaded`, transcriptFile: 'conversation', system: 'Notice',
      emailTranscript: 'Email me the transcript', transcriptEmailed: (to) => `The transcript is on its way to ${to}.`,
      transcriptRefused: 'The transcript can be emailed only once you have confirmed it is you; you can download it instead.',
      transcriptSentAlready: 'The transcript was emailed already.',
      signIn: 'Sign in with your hospital account', signedIn: (to) => `You are signed in as ${to}: you can ask about your appointments.`,
      signInFailed: 'The sign-in did not work. You can try again, or ask about your appointments to get a code by email.',
      signInBlocked: 'The sign-in window could not open. Please allow pop-ups for this page and try again.',
    },
    es: {
      skip: 'Ir al chat', title: 'Centro de Atención al Paciente', tagline: 'Chatee con nuestro asistente virtual y nuestro equipo de atención.',
      startHeading: 'Iniciar una conversación',
      notice: '<strong>En una emergencia, llame al 911.</strong> En una crisis de salud mental, llame o envíe un mensaje de texto al 988. Este chat no es para emergencias.',
      nameLabel: 'Su nombre <span class="required">(obligatorio)</span>', nameError: 'Escriba su nombre.',
      topicLabel: '¿En qué podemos ayudarle? <span class="optional">(opcional)</span>', localeLabel: 'Idioma', start: 'Iniciar chat',
      chatHeading: 'Conversación', end: 'Terminar la conversación', log: 'Mensajes', surveyQuestion: '¿Cómo calificaría esta conversación?',
      surveyComment: 'Comentarios <span class="optional">(opcional)</span>', surveySubmit: 'Enviar opinión', surveyThanks: 'Gracias por su opinión.',
      messageLabel: 'Su mensaje', composerHelp: 'Intro para enviar, Mayús+Intro para una nueva línea.', send: 'Enviar', newConversation: 'Iniciar una nueva conversación',
      bot: 'Conversando con nuestro asistente virtual', waiting: 'Esperando a una persona de nuestro equipo',
      waitingAt: (n) => `Esperando a una persona de nuestro equipo: tiene el número ${n} en la fila`,
      recentWait: (m) => (m < 1 ? 'Últimamente la espera en esta fila fue de menos de un minuto.' : `Últimamente la espera en esta fila fue de unos ${m} minuto${m === 1 ? '' : 's'}.`),
      withAgent: (name) => `Está conversando con ${name}`, withAnAgent: 'Está conversando con una persona de nuestro equipo', closed: 'Esta conversación ha terminado',
      reconnecting: 'Reconectando…', connecting: 'Conectando…', botTyping: 'El asistente está escribiendo…', agentTyping: 'La persona de nuestro equipo está escribiendo…',
      you: 'Usted', assistant: 'Asistente virtual', agent: 'Equipo de atención', suggested: 'Respuestas sugeridas', outOf: (i, n) => `${i} de ${n}`,
      sending: ['enviando', 'Enviando…'], delivered: ['entregado', 'Entregado'], notSent: ['no enviado', 'No enviado'],
      expired: 'Su conversación anterior ha caducado. Inicie una nueva.',
      interrupted: 'La conexión se interrumpió. Pulse "Iniciar chat" de nuevo.',
      unreachable: 'No podemos conectar con el chat en este momento. Seguimos intentándolo…', wrong: 'Algo salió mal. Inténtelo de nuevo.',
      tooLong: (n, max) => `Su mensaje tiene ${n} caracteres; el límite es ${max}. Acórtelo o envíelo en partes.`,
      chooseScore: 'Elija una calificación antes de enviar su opinión.', offline: 'No tiene conexión. Inténtelo de nuevo en un momento.',
      noServer: 'El chat no está disponible: esta página no encontró la dirección del servidor. Inténtelo más tarde o llámenos.',
      transcript: 'Descargar la conversación', transcriptTitle: 'Centro de Atención al Paciente: su conversación',
      transcriptTimes: (zone) => `Horas de este dispositivo (${zone}). Descargada`, transcriptFile: 'conversacion', system: 'Aviso',
      emailTranscript: 'Enviarme la conversación por correo', transcriptEmailed: (to) => `La conversación va en camino a ${to}.`,
      transcriptRefused: 'La conversación solo se envía por correo una vez comprobado que es usted; puede descargarla.',
      transcriptSentAlready: 'La conversación ya se envió por correo.',
      signIn: 'Iniciar sesión con su cuenta del hospital', signedIn: (to) => `Inició sesión como ${to}: puede preguntar por sus citas.`,
      signInFailed: 'No se pudo iniciar sesión. Puede intentarlo de nuevo, o preguntar por sus citas para recibir un código por correo.',
      signInBlocked: 'No se pudo abrir la ventana para iniciar sesión. Permita las ventanas emergentes en esta página e inténtelo de nuevo.',
    },
  };
  let lang = 'en';
  function t(key, ...args) {
    const w = WORDS[lang][key] ?? WORDS.en[key];
    return typeof w === 'function' ? w(...args) : w;
  }
  // The page's fixed words, by element: [selector, key, whether the words
  // carry markup (only these fixed strings do), attribute].
  const FIXED = [
    ['.skip-link', 'skip'], ['.site-header h1', 'title'], ['.site-header p', 'tagline'], ['#start-heading', 'startHeading'],
    ['#start-section .notice', 'notice', true], ['label[for="name"]', 'nameLabel', true], ['#name-error', 'nameError'],
    ['label[for="topic"]', 'topicLabel', true], ['label[for="locale"]', 'localeLabel'], ['#start', 'start'], ['#chat-heading', 'chatHeading'],
    ['#end', 'end'], ['.messages-log', 'log', false, 'aria-label'], ['label[for="survey-comment"]', 'surveyComment', true],
    ['#survey-submit', 'surveySubmit'], ['#survey-thanks', 'surveyThanks'], ['label[for="message-input"]', 'messageLabel'],
    ['#composer-help', 'composerHelp'], ['#send', 'send'], ['#new-conversation', 'newConversation'], ['#transcript', 'transcript'], ['#email-transcript', 'emailTranscript'],
    ['#sign-in', 'signIn'],
  ];
  function setLanguage(l) {
    lang = l === 'es' ? 'es' : 'en';
    document.documentElement.lang = lang;
    for (const [sel, key, markup, attr] of FIXED) {
      const e = document.querySelector(sel);
      if (!e) continue;
      if (attr) e.setAttribute(attr, t(key));
      else if (markup) e.innerHTML = t(key);
      else e.textContent = t(key);
    }
    if (!survey) el.surveyQuestion.textContent = t('surveyQuestion');
  }

  // ---- storage (may be unavailable, e.g. blocked in a third-party iframe) ----

  function load() {
    try {
      const s = JSON.parse(localStorage.getItem(STORE_KEY));
      if (s && typeof s.session === 'string' && typeof s.conversationId === 'string') {
        s.pending = Array.isArray(s.pending) ? s.pending : [];
        s.lastMessageId = s.lastMessageId || '';
        return s;
      }
    } catch { /* corrupt or blocked: start afresh */ }
    return null;
  }

  // A closed conversation's session is not kept in the browser: a reload
  // (or the next person at a shared device) gets a new conversation, not
  // this one's transcript. It stays in memory for this page's survey.
  function persist() {
    try {
      if (saved && state !== 'closed') localStorage.setItem(STORE_KEY, JSON.stringify(saved));
      else localStorage.removeItem(STORE_KEY);
    } catch { /* the chat still works until the page is reloaded */ }
  }

  // ---- configuration ----

  async function findWsUrl() {
    // ?ws= is for local development only: on a real host a crafted link
    // must not point a patient's chat at someone else's server.
    const fromQuery = params.get('ws');
    if (fromQuery && ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname)) return fromQuery;
    const res = await fetch('config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('config.json: HTTP ' + res.status);
    const conf = await res.json();
    const si = conf.patientSignIn;
    if (si && ['authorizeUrl', 'tokenUrl', 'clientId', 'redirectUri'].every((k) => typeof si[k] === 'string' && si[k])) signInConf = si;
    return conf.patientWebSocketUrl;
  }

  function isWsUrl(u) {
    try { return ['ws:', 'wss:'].includes(new URL(u).protocol); } catch { return false; }
  }

  // ---- connection ----

  // probe: connect without the session, to learn whether a failed handshake
  // was the server refusing the token (probe opens) or the network (it fails too).
  function connect(probe = false) {
    clearTimeout(retryTimer);
    const url = new URL(wsUrl);
    if (saved && !probe) url.searchParams.set('session', saved.session);
    const withSession = url.searchParams.has('session');
    let opened = false;
    let ws;
    try { ws = new WebSocket(url.href); } catch { scheduleReconnect(); return; }
    sock = ws;
    ws.onopen = () => {
      if (sock !== ws) return;
      opened = connected = everConnected = true;
      attempt = 0;
      if (probe && saved) forget(t('expired'));
      onOpen();
    };
    ws.onmessage = (e) => {
      // A socket replaced on purpose (a new conversation) may still hold
      // frames of the old one (its survey, its last status): they must not
      // pull the page back into it.
      if (sock !== ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f.type === 'string') handle(f);
    };
    ws.onclose = () => {
      if (sock !== ws) return;     // replaced on purpose
      sock = null;
      connected = false;
      requests.clear();            // no answers will come on this socket
      if (starting && !startFrame) {
        // Resending start could create a second conversation; let the patient retry.
        starting = false;
        el.start.disabled = false;
        showError(t('interrupted'));
      }
      if (!opened && withSession) connect(true);
      else scheduleReconnect();
    };
    renderStatus();
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    if (!saved && !startFrame) return;   // nothing to resume: "Start chat" connects
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 10));
    attempt++;
    // Jitter in [base/2, base) so many patients do not reconnect in lockstep after an outage.
    retryTimer = setTimeout(() => connect(), base / 2 + Math.random() * base / 2);
    if (!saved && startFrame && attempt === 2) showError(t('unreachable'));
    renderStatus();
  }

  function onOpen() {
    renderStatus();
    if (saved) {
      // After a reload the log is empty, so ask for the whole conversation.
      request({ action: 'resume', after: seenAll ? saved.lastMessageId : '' });
      for (const p of saved.pending) transmit(p);
    } else if (startFrame) {
      clearError();
      request(startFrame);
      startFrame = null;
    }
  }

  function request(frame, meta = {}) {
    if (!connected) return false;
    const requestId = 'r' + (++reqSeq);
    requests.set(requestId, { action: frame.action, ...meta });
    sock.send(JSON.stringify({ ...frame, requestId }));
    return true;
  }

  // ---- server frames ----

  function handle(f) {
    const req = f.requestId ? requests.get(f.requestId) : undefined;
    if (req && !f.more) requests.delete(f.requestId);
    const ours = saved && (!f.conversationId || f.conversationId === saved.conversationId);
    switch (f.type) {
      case 'session': onSession(f); break;
      case 'ack': if (saved) onAck(f); break;
      case 'message': if (ours) addMessage(f); break;
      case 'history':
        if (!ours) break;
        seenAll = true;
        setState(f);
        for (const m of Array.isArray(f.messages) ? f.messages : []) addMessage(m);
        break;
      case 'status': if (ours) setState(f); break;
      case 'typing': if (ours && f.role !== 'patient') showTyping(f.role); break;
      case 'survey': if (saved) showSurvey(f); break;
      case 'surveyAnswered': if (f.text) el.surveyThanks.textContent = f.text; break;
      case 'signedIn':
        if (!ours) break;
        verified = true;
        el.signIn.hidden = true;
        el.signInNote.textContent = t('signedIn', f.email || '');
        break;
      case 'transcript':
        el.emailTranscript.hidden = true;
        el.transcriptNote.textContent = t('transcriptEmailed', f.to || '');
        break;
      case 'error': onError(f, req); break;
    }
  }

  function onSession(f) {
    if (!f.session || !f.conversationId) return;
    starting = false;
    saved = { session: f.session, conversationId: f.conversationId, patientId: f.patientId || '', lastMessageId: '', pending: [], locale: startLocale };
    seenAll = true;                // a new conversation: nothing earlier to fetch
    persist();
    el.start.disabled = false;
    el.startForm.reset();
    setLocaleDefault();
    setLanguage(saved.locale);
    clearError();
    showChat();
    el.input.focus();
  }

  function onAck(f) {
    saved.pending = saved.pending.filter((p) => p.clientMessageId !== f.clientMessageId);
    persist();
    const li = byClientId(f.clientMessageId);
    if (!li || !f.messageId) return;
    // A resend of a message the server already had may be answered after its
    // copy arrived in the history: keep ours, drop the copy.
    const copy = byId(f.messageId);
    if (copy && copy !== li) copy.remove();
    li.dataset.messageId = f.messageId;
    setDelivery(li, 'acked');
    if (f.at && !li.querySelector('time')) li.querySelector('.msg-meta').prepend(timeEl(f.at));
    place(li);
  }

  function onError(f, req) {
    showError(f.message || t('wrong'));
    const action = req ? req.action : '';
    if (action === 'resume' && f.code === 'unauthorized') {
      forget(t('expired'));
    } else if (action === 'start') {
      starting = false;
      el.start.disabled = false;
    } else if (action === 'send') {
      const p = saved && saved.pending.find((x) => x.clientMessageId === req.clientMessageId);
      if (!p) return;
      if (['too_large', 'bad_request', 'forbidden', 'not_found', 'conflict'].includes(f.code)) {
        failMessage(p);            // resending would fail the same way
      } else if (f.code === 'rate_limited' && (p.tries = (p.tries || 0) + 1) <= 3) {
        setTimeout(() => { if (saved && saved.pending.includes(p)) transmit(p); }, RATE_LIMIT_RETRY_MS * p.tries);
      }                            // other errors: stays pending, resent after the next reconnect
    } else if (action === 'end') {
      el.end.disabled = false;
    } else if (action === 'signIn') {
      el.signIn.disabled = false;  // the server's message says why (another email on file, an expired sign-in)
    } else if (action === 'transcript') {
      el.emailTranscript.disabled = false;
      if (f.code === 'forbidden') showError(t('transcriptRefused'));
      if (f.code === 'conflict') { showError(t('transcriptSentAlready')); el.emailTranscript.hidden = true; }
    } else if (action === 'survey' && f.code === 'conflict') {
      el.survey.hidden = true;     // answered already, or closed: nothing to retry
    } else if (action === 'survey') {
      el.survey.hidden = false;
      el.surveyThanks.hidden = true;
      el.surveySubmit.disabled = false;
    }
  }

  function setState(f) {
    const at = f.at ? Date.parse(f.at) : NaN;
    if (!Number.isNaN(at)) {
      if (at < stateAt) return;
      stateAt = at;
    } else if (stateAt > 0 && f.state && f.state !== state) {
      return;
    }
    if (f.state) state = f.state;
    if (f.agent && f.agent.name) agentName = f.agent.name;
    if (f.identity === 'verified') verified = true;   // the patient typed the emailed code
    switch (state) {
      case 'bot': statusText = t('bot'); break;
      case 'waiting':
        statusText = f.queuePosition > 0
          ? t('waitingAt', f.queuePosition)
          : t('waiting');
        // The queue's recent wait (seconds), when routing knows it: a
        // fact about others, not a promise.
        if (f.queuePosition > 0 && f.recentWaitSeconds > 0) statusText += '. ' + t('recentWait', Math.round(f.recentWaitSeconds / 60));
        break;
      case 'assigned': statusText = agentName ? t('withAgent', agentName) : t('withAnAgent'); break;
      case 'closed': statusText = t('closed'); break;
    }
    const closed = state === 'closed';
    // Disabling the focused control drops focus to <body>; move it somewhere useful.
    const hadFocus = el.composer.contains(document.activeElement) || document.activeElement === el.end;
    el.input.disabled = el.send.disabled = closed;
    el.end.hidden = closed;
    el.end.disabled = false;
    el.newConversation.hidden = !closed;
    el.transcript.hidden = !closed;   // at the end: the whole conversation
    el.emailTranscript.hidden = !closed || !verified || el.transcriptNote.textContent !== '';
    el.signIn.hidden = !signInConf || verified || closed;
    if (closed) {
      persist();
      clearQuickReplies();
      if (hadFocus) el.newConversation.focus();
    }
    renderStatus();
  }

  function renderStatus() {
    el.status.textContent = saved && !connected ? (everConnected ? t('reconnecting') : t('connecting')) : statusText;
  }

  function showTyping(role) {
    el.typing.textContent = role === 'bot' ? t('botTyping') : t('agentTyping');
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { el.typing.textContent = ''; }, TYPING_SHOW_MS);
  }

  // ---- message list ----

  const byId = (id) => el.messages.querySelector(`li[data-message-id="${CSS.escape(id)}"]`);
  const byClientId = (id) => el.messages.querySelector(`li[data-client-message-id="${CSS.escape(id)}"]`);

  function addMessage(m) {
    if (!m || typeof m.messageId !== 'string' || !m.messageId) return;
    noteSeen(m.messageId);
    if (byId(m.messageId)) return;  // rendered already, or our own acked message
    const from = m.from || {};
    if (from.role === 'patient') clearQuickReplies();
    if (from.role && from.role !== 'patient') {
      clearTimeout(typingTimer);
      el.typing.textContent = '';
    }
    const li = buildMessage(from, String(m.text || ''), m.at);
    li.dataset.messageId = m.messageId;
    if (Array.isArray(m.quickReplies) && m.quickReplies.length && state !== 'closed') addQuickReplies(li, m.quickReplies);
    const stick = nearBottom();
    place(li);
    if (stick) scrollDown();
  }

  function noteSeen(id) {
    // Message ids sort in conversation order, so the greatest is the last seen.
    if (saved && id > (saved.lastMessageId || '')) {
      saved.lastMessageId = id;
      persist();
    }
  }

  // Keeps the log in message id order, with unacknowledged messages last.
  function place(li) {
    const id = li.dataset.messageId;
    let before = null;
    for (const c of el.messages.children) {
      if (c === li) continue;
      if (c.dataset.status === 'pending' || (id && c.dataset.messageId && c.dataset.messageId > id)) { before = c; break; }
    }
    if (li.parentNode !== el.messages || li.nextElementSibling !== before) el.messages.insertBefore(li, before);
  }

  function buildMessage(from, text, at) {
    const role = ['patient', 'bot', 'agent', 'system'].includes(from.role) ? from.role : 'system';
    const li = document.createElement('li');
    li.className = 'msg msg-' + role;
    li.lang = lang;                  // read in the conversation's language
    if (role !== 'system') {
      const who = document.createElement('span');
      who.className = 'msg-from';
      who.textContent = role === 'patient' ? t('you') : from.name || (role === 'bot' ? t('assistant') : t('agent'));
      li.append(who);
    }
    const body = document.createElement('p');
    body.className = 'msg-text';
    body.textContent = text;
    const meta = document.createElement('span');
    meta.className = 'msg-meta';
    if (at) meta.append(timeEl(at));
    li.append(body, meta);
    return li;
  }

  function timeEl(at) {
    const t = document.createElement('time');
    const d = new Date(at);
    t.dateTime = at;
    t.textContent = isNaN(d) ? '' : d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    return t;
  }

  const DELIVERY = { pending: 'sending', acked: 'delivered', failed: 'notSent' };

  function setDelivery(li, status) {
    li.dataset.status = status;
    let sr = li.querySelector('.msg-state');
    let shown = li.querySelector('.msg-state-visible');
    if (!sr) {
      sr = document.createElement('span');
      sr.className = 'msg-state visually-hidden';
      shown = document.createElement('span');
      shown.className = 'msg-state-visible';
      shown.setAttribute('aria-hidden', 'true');  // the visually-hidden text speaks for it
      li.querySelector('.msg-meta').append(sr, shown);
    }
    [sr.textContent, shown.textContent] = t(DELIVERY[status]);
  }

  function pendingItem(p) {
    const li = buildMessage({ role: 'patient' }, p.text);
    li.dataset.clientMessageId = p.clientMessageId;
    setDelivery(li, 'pending');
    return li;
  }

  function failMessage(p) {
    saved.pending = saved.pending.filter((x) => x !== p);
    persist();
    const li = byClientId(p.clientMessageId);
    if (li) setDelivery(li, 'failed');
  }

  function addQuickReplies(li, replies) {
    const box = document.createElement('div');
    box.className = 'quick-replies';
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', t('suggested'));
    for (const r of replies) {
      if (typeof r !== 'string' || !r.trim()) continue;
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'quick-reply';
      b.textContent = r;
      b.addEventListener('click', () => {
        if (!saved || state === 'closed') return;
        sendText(r);
        el.input.focus();        // the button itself is about to disappear
      });
      box.append(b);
    }
    if (box.childElementCount) li.append(box);
  }

  function clearQuickReplies() {
    for (const box of el.messages.querySelectorAll('.quick-replies')) box.remove();
  }

  // The log wrapper around #messages is what scrolls.
  const scroller = () => el.messages.parentElement;
  const nearBottom = () => scroller().scrollHeight - scroller().scrollTop - scroller().clientHeight < 80;
  const scrollDown = () => { scroller().scrollTop = scroller().scrollHeight; };

  // ---- sending ----

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context (https or localhost); build a v4 UUID by hand.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function sendText(text) {
    const p = { clientMessageId: newId(), text };
    saved.pending.push(p);
    persist();
    clearQuickReplies();
    el.messages.append(pendingItem(p));
    scrollDown();
    transmit(p);                   // offline: stays pending and goes out after the reconnect
  }

  function transmit(p) {
    // echo false: the ack confirms the copy shown here; other devices get the message.
    request({ action: 'send', conversationId: saved.conversationId, clientMessageId: p.clientMessageId, text: p.text, echo: false },
      { clientMessageId: p.clientMessageId });
  }

  const charCount = (s) => [...s].length;  // code points, as the server counts

  function updateCounter() {
    const n = charCount(el.input.value);
    const over = n > MAX_TEXT;
    el.counter.textContent = over ? `${n - MAX_TEXT} characters over the ${MAX_TEXT} limit` : `${n} / ${MAX_TEXT}`;
    el.counter.classList.toggle('over', over);
    if (over) el.input.setAttribute('aria-invalid', 'true');
    else el.input.removeAttribute('aria-invalid');
  }

  function onComposerSubmit(e) {
    e.preventDefault();
    if (!saved || state === 'closed') return;
    const text = el.input.value;
    if (!text.trim()) return;
    const n = charCount(text);
    if (n > MAX_TEXT) {
      showError(t('tooLong', n, MAX_TEXT));
      el.input.focus();
      return;
    }
    clearError();
    sendText(text);
    el.input.value = '';
    updateCounter();
  }

  function onInput() {
    updateCounter();
    const now = Date.now();
    if (saved && connected && state !== 'closed' && el.input.value.trim() && now - lastTypingSent >= TYPING_EVERY_MS) {
      lastTypingSent = now;
      sock.send(JSON.stringify({ action: 'typing', conversationId: saved.conversationId }));
    }
  }

  function onStartSubmit(e) {
    e.preventDefault();
    const name = el.name.value.trim();
    if (!name) {
      el.name.setAttribute('aria-invalid', 'true');
      el.nameError.hidden = false;
      el.name.focus();
      return;
    }
    el.name.removeAttribute('aria-invalid');
    el.nameError.hidden = true;
    if (!wsUrl || starting) return;
    clearError();
    starting = true;
    el.start.disabled = true;
    const topic = el.topic.value.trim();
    startFrame = { action: 'start', name, locale: el.locale.value, ...(topic && { topic }) };
    startLocale = el.locale.value;
    // On a socket bound to an old session, start keeps the same patient id.
    if (connected) { request(startFrame); startFrame = null; } else if (!sock) connect();
  }

  // ---- survey ----

  function showSurvey(f) {
    if (typeof f.surveyId !== 'string' || !f.surveyId) return;
    let [lo, hi] = Array.isArray(f.scale) ? f.scale.map(Number) : [];
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo < hi && hi - lo <= 10)) [lo, hi] = [1, 5];
    survey = { id: f.surveyId, score: 0 };
    el.surveyQuestion.textContent = f.question || t('surveyQuestion');
    el.surveyScale.replaceChildren();
    for (let i = lo; i <= hi; i++) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'score';
      b.textContent = String(i);
      b.setAttribute('aria-label', t('outOf', i, hi));
      b.setAttribute('aria-pressed', 'false');
      b.addEventListener('click', () => {
        survey.score = i;
        for (const o of el.surveyScale.children) o.setAttribute('aria-pressed', String(o === b));
      });
      el.surveyScale.append(b);
    }
    el.surveyComment.value = '';
    el.surveySubmit.disabled = false;
    el.surveyThanks.hidden = true;
    el.survey.hidden = false;
  }

  function onSurveySubmit(e) {
    e.preventDefault();
    if (!survey) return;
    if (!survey.score) {
      showError(t('chooseScore'));
      el.surveyScale.firstElementChild?.focus();
      return;
    }
    const comment = el.surveyComment.value.trim();
    if (!request({ action: 'survey', surveyId: survey.id, score: survey.score, ...(comment && { comment }) })) {
      showError(t('offline'));
      return;
    }
    clearError();
    el.surveySubmit.disabled = true;
    el.survey.hidden = true;
    el.surveyThanks.hidden = false;
  }

  // ---- views ----

  function showChat() {
    el.startSection.hidden = true;
    el.chat.hidden = false;
    for (const p of saved.pending) if (!byClientId(p.clientMessageId)) el.messages.append(pendingItem(p));
    renderStatus();
  }

  function showStart() {
    el.chat.hidden = true;
    el.startSection.hidden = false;
    el.start.disabled = !wsUrl;
  }

  // Drops the stored conversation and returns to the start form.
  function forget(message) {
    saved = null;
    persist();
    // The next conversation gets a connection of its own (and so a patient
    // id of its own): the next person at a shared device is not linked to
    // this one's conversations.
    if (sock) {
      const s = sock;
      sock = null;                 // replaced on purpose: no reconnect
      connected = false;
      requests.clear();
      s.close();
    }
    seenAll = false;
    state = statusText = agentName = '';
    stateAt = 0;
    survey = null;
    el.messages.replaceChildren();
    el.typing.textContent = '';
    el.survey.hidden = el.surveyThanks.hidden = true;
    el.input.disabled = el.send.disabled = false;
    el.end.hidden = false;
    el.newConversation.hidden = el.transcript.hidden = el.emailTranscript.hidden = true;
    el.emailTranscript.disabled = false;
    el.transcriptNote.textContent = el.signInNote.textContent = '';
    el.signIn.hidden = true;
    el.signIn.disabled = false;
    signInWait = null;
    verified = false;
    setLanguage(el.locale.value);
    showStart();
    if (message) showError(message);
    el.name.focus();
  }

  function showError(message) { el.error.textContent = message; }
  function clearError() { el.error.textContent = ''; }

  // The start form's language: the one the widget (or a link) asks for
  // (?lang=es), else the browser's.
  function setLocaleDefault() {
    const asked = (params.get('lang') || navigator.language || '').toLowerCase();
    el.locale.value = asked.startsWith('es') ? 'es' : 'en';
  }

  // ---- start up ----

  async function init() {
    if (embedded) {
      document.documentElement.classList.add('embed');
      // Escape inside the iframe never reaches the host page; ask the widget to close.
      document.addEventListener('keydown', (e) => {
        if (e.key === 'Escape' && window.parent !== window) window.parent.postMessage({ type: 'psc:close' }, '*');
      });
    }
    setLocaleDefault();
    setLanguage(saved ? saved.locale : el.locale.value);
    // The start form speaks the language chosen in it.
    el.locale.addEventListener('change', () => { if (!saved) setLanguage(el.locale.value); });
    el.startForm.addEventListener('submit', onStartSubmit);
    el.name.addEventListener('input', () => { if (el.name.value.trim()) { el.name.removeAttribute('aria-invalid'); el.nameError.hidden = true; } });
    el.composer.addEventListener('submit', onComposerSubmit);
    el.input.addEventListener('input', onInput);
    el.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        el.composer.requestSubmit();
      }
    });
    el.end.addEventListener('click', () => {
      if (saved && request({ action: 'end', conversationId: saved.conversationId })) el.end.disabled = true;
      else showError(t('offline'));
    });
    el.newConversation.addEventListener('click', () => forget());
    el.transcript.addEventListener('click', downloadTranscript);
    el.emailTranscript.addEventListener('click', () => {
      if (saved && request({ action: 'transcript', conversationId: saved.conversationId })) el.emailTranscript.disabled = true;
      else showError(t('offline'));
    });
    el.signIn.addEventListener('click', startSignIn);
    // The sign-in window's answer: from the window this page opened, or
    // (when a cross-origin page in between cut that link) on the channel.
    window.addEventListener('message', (e) => { if (e.origin === location.origin) onSignInAnswer(e.data); });
    if ('BroadcastChannel' in window) new BroadcastChannel('psc-signin').onmessage = (e) => onSignInAnswer(e.data);
    el.survey.addEventListener('submit', onSurveySubmit);
    window.addEventListener('online', () => { if (wsUrl && !sock && (saved || startFrame)) connect(); });
    updateCounter();

    if (saved) showChat(); else showStart();
    el.start.disabled = true;      // until we know where the server is
    try { wsUrl = await findWsUrl(); } catch { wsUrl = ''; }
    if (!isWsUrl(wsUrl)) {
      wsUrl = '';
      showError(t('noServer'));
      return;
    }
    el.start.disabled = false;
    // A returning patient resumes at once; a new one connects on "Start chat".
    if (saved) connect();
  }

  // ---- sign-in with the hospital's account (OpenID Connect) ----
  // The authorization code flow with PKCE: a window opens the hospital's
  // sign-in; it comes back to signin.html, which hands this page the code;
  // this page, which alone knows the code's verifier, swaps it for an ID
  // token, checks the nonce, and gives the token to the chat service,
  // which checks it and marks the conversation verified.

  function b64url(bytes) {
    return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  async function startSignIn() {
    if (!signInConf || !saved) return;
    clearError();
    signInWait = { state: random(16), nonce: random(16), verifier: random(32) };
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(signInWait.verifier)));
    const u = new URL(signInConf.authorizeUrl);
    u.search = new URLSearchParams({
      response_type: 'code', client_id: signInConf.clientId, redirect_uri: signInConf.redirectUri, scope: 'openid email',
      state: signInWait.state, nonce: signInWait.nonce, code_challenge: challenge, code_challenge_method: 'S256', lang,
    }).toString();
    if (!window.open(u.href, 'psc-signin', 'popup,width=480,height=680')) {
      signInWait = null;
      showError(t('signInBlocked'));
    }
  }

  async function onSignInAnswer(d) {
    if (!d || d.type !== 'psc-signin' || !signInWait || d.state !== signInWait.state) return;
    const wait = signInWait;
    signInWait = null;
    try {
      if (!d.code) throw new Error('no code');
      const res = await fetch(signInConf.tokenUrl, {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: signInConf.clientId, code: d.code, redirect_uri: signInConf.redirectUri, code_verifier: wait.verifier }),
      });
      if (!res.ok) throw new Error('token: HTTP ' + res.status);
      const idToken = (await res.json()).id_token || '';
      const payload = JSON.parse(atob(idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      if (payload.nonce !== wait.nonce) throw new Error('nonce');
      if (!saved || !request({ action: 'signIn', conversationId: saved.conversationId, idToken })) throw new Error('offline');
      el.signIn.disabled = true;
    } catch {
      showError(t('signInFailed'));
    }
  }

  // ---- the transcript ----
  // What the patient sees in the log, as plain text in the conversation's
  // language: who, when (this device's clock) and what, delivered messages
  // only. Agents' notes and supervisors' whispers never reach this page.

  function stamp(d) {
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function transcriptText() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
    const lines = [t('transcriptTitle'), t('transcriptTimes', zone) + ' ' + stamp(new Date()) + '.', ''];
    for (const li of el.messages.children) {
      if (li.dataset.status === 'pending' || li.dataset.status === 'failed') continue;
      const who = li.querySelector('.msg-from');
      const time = li.querySelector('.msg-meta time');
      const at = time ? new Date(time.dateTime) : null;
      const text = li.querySelector('.msg-text').textContent;
      lines.push('[' + (at && !isNaN(at) ? stamp(at) : '') + '] ' + (who ? who.textContent : t('system')) + ': ' + text.replace(/\n/g, '\n    '));
    }
    return lines.join('\n') + '\n';
  }

  function downloadTranscript() {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([transcriptText()], { type: 'text/plain;charset=utf-8' }));
    a.download = t('transcriptFile') + '-' + stamp(new Date()).slice(0, 10) + '.txt';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  window.PSCChat = Object.freeze({ version: VERSION, transcript: transcriptText });
  init();
})();
