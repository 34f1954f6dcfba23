// Patient Service Center: the agent console (agent/index.html).
// Plain JavaScript, no build step. Signs in against the agent user pool
// with SRP (AWS's amazon-cognito-identity-js, then the first sign-in's
// new password and the authenticator (TOTP) set up or code), connects to the agent
// WebSocket API with the ID token, and speaks the agent protocol.
// Privacy: never log message text, names or tokens; the token lives in
// memory only.
(() => {
  'use strict';

  const VERSION = '1.0.0';
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const TYPING_EVERY_MS = 3000;
  const QUEUES_EVERY_MS = 15000;

  const $ = (id) => document.getElementById(id);
  const el = {
    error: $('error'), notice: $('notice'), signIn: $('sign-in'), signInForm: $('sign-in-form'), username: $('username'), password: $('password'),
    newPasswordForm: $('new-password-form'), newPassword: $('new-password'), newPasswordAgain: $('new-password-again'), newPasswordButton: $('new-password-button'),
    mfaSetupForm: $('mfa-setup-form'), mfaSecret: $('mfa-secret'), mfaLink: $('mfa-link'), mfaSetupCode: $('mfa-setup-code'), mfaSetupButton: $('mfa-setup-button'),
    mfaForm: $('mfa-form'), mfaCode: $('mfa-code'), mfaButton: $('mfa-button'),
    signInButton: $('sign-in-button'), who: $('who'), agentName: $('agent-name'), presence: $('presence'),
    connection: $('connection'), signOut: $('sign-out'), console: $('console'), offers: $('offers'), offerCount: $('offer-count'), alerts: $('alerts'), alertsHeading: $('alerts-heading'),
    conversations: $('conversations'), noConversations: $('no-conversations'), workspace: $('workspace'),
    workspaceHeading: $('workspace-heading'), messages: $('messages'), typing: $('typing'), composer: $('composer'),
    input: $('message-input'), send: $('send'), context: $('context'), closeButton: $('close-conversation'),
    closeDialog: $('close-dialog'), closeForm: $('close-form'), disposition: $('disposition'), closeMessage: $('close-message'), closeCancel: $('close-cancel'),
    handoff: $('handoff'), transcriptEarlier: $('transcript-earlier'),
    notes: $('notes'), noteForm: $('note-form'), noteInput: $('note-input'),
    messagesLog: document.querySelector('.messages-log'), handBackButton: $('handback-conversation'), transferButton: $('transfer-conversation'), transferDialog: $('transfer-dialog'), transferForm: $('transfer-form'),
    transferQueue: $('transfer-queue'), transferAgent: $('transfer-agent'), roster: $('roster'),
    floor: $('floor'), floorCount: $('floor-count'), floorNote: $('floor-note'),
    monitor: $('monitor'), monitorWho: $('monitor-who'), monitorLog: $('monitor-log'), whisperForm: $('whisper-form'), whisperText: $('whisper-text'),
    monitorSendForm: $('monitor-send-form'), monitorText: $('monitor-text'), barge: $('barge'), unmonitor: $('unmonitor'),
    kpiForm: $('kpi-form'), kpiBy: $('kpi-by'), kpiDays: $('kpi-days'), kpiCsv: $('kpi-csv'), kpis: $('kpis'),
    kpiFigure: $('kpi-figure'), kpiChart: $('kpi-chart'),
    monitorDialog: $('monitor-dialog'), monitorForm: $('monitor-form'), monitorReason: $('monitor-reason'), monitorCancel: $('monitor-cancel'), transferCancel: $('transfer-cancel'), transferReason: $('transfer-reason'),
    cannedButton: $('canned-button'), cannedDialog: $('canned-dialog'), cannedFilter: $('canned-filter'), cannedList: $('canned-list'),
    cannedCancel: $('canned-cancel'), queueStats: $('queue-stats'), queueUpdated: $('queue-updated'),
    appointments: $('appointments'), bookOpen: $('book-open'), bookDialog: $('book-dialog'), bookForm: $('book-form'), bookFor: $('book-for'),
    bookSpecialty: $('book-specialty'), bookMode: $('book-mode'), bookFrom: $('book-from'), bookSearch: $('book-search'),
    bookChange: $('book-change'), bookChangeField: $('book-change-field'),
    offerSound: $('offer-sound'), offerNotifications: $('offer-notifications'),
    script: $('script'), scriptTitle: $('script-title'), scriptSteps: $('script-steps'),
    bookSlotsSet: $('book-slots-set'), bookSlots: $('book-slots'), bookResult: $('book-result'), bookCancel: $('book-cancel'), bookConfirm: $('book-confirm'),
    supervision: $('supervision'), tasks: $('tasks'), taskCount: $('task-count'), csatOverall: $('csat-overall'),
    csatByAgent: document.querySelector('#csat-by-agent tbody'), csatByQueue: document.querySelector('#csat-by-queue tbody'),
    csatByWeek: document.querySelector('#csat-by-week tbody'),
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
  let agentFirstName = '';
  let canned = [];                     // from canned.json
  let cannedShown = [];
  let cannedPick = 0;
  let transferQueues = [];             // from the queue frame
  let roster = [];                     // from the agents frame
  const assignPicks = new Map();       // conversationId -> the agent chosen on the floor
  const floor = new Map();             // conversationId → floor row (supervisors)
  let floorSkew = 0;                   // server clock − this clock, from the floor frame's at
  let kpiRows = null;                  // the last kpis frame, for the CSV
  let clinicZone = '';                 // the clinic's time zone (IANA), from the patient view
  let monitoring = null;               // { id, messages: Map, joined } while a supervisor monitors
  let monitorAsk = '';                 // the conversation the monitor dialog is for
  let queueTimer = 0;
  let moving = '';                     // the appointment the book dialog moves ('' books a new one)
  let movingSlot = null;               // its slot: a move keeps its kind of visit unless changed deliberately
  let supervisor = false;              // the token's groups include supervisor
  const tasks = new Map();             // taskId -> task view
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

  // The sign-in speaks Cognito's Secure Remote Password protocol
  // (USER_SRP_AUTH: the password never leaves the browser) through AWS's
  // amazon-cognito-identity-js, which `make tools` puts at
  // agent/vendor/. Its tokens are kept in memory only.
  const memoryStorage = (() => {
    const m = new Map();
    return {
      setItem: (k, v) => { m.set(k, String(v)); }, getItem: (k) => (m.has(k) ? m.get(k) : null),
      removeItem: (k) => { m.delete(k); }, clear: () => { m.clear(); },
    };
  })();

  // The sign-in in progress: who, and the Cognito user object that holds
  // the session of the challenge Cognito put (a new password, the
  // authenticator set up, its code).
  const pending = { username: '', user: null };

  function newUser(username) {
    const lib = window.AmazonCognitoIdentity;
    if (!lib) throw new Error('The sign-in library did not load (agent/vendor/amazon-cognito-identity.min.js); ask an administrator.');
    if (!config.agentPool.poolId) throw new Error('config.json lacks agentPool.poolId; ask an administrator.');
    const pool = new lib.CognitoUserPool({ UserPoolId: config.agentPool.poolId, ClientId: config.agentPool.clientId, endpoint: poolEndpoint(), Storage: memoryStorage });
    return new lib.CognitoUser({ Username: username, Pool: pool, Storage: memoryStorage });
  }

  // answer runs one call of the sign-in and resolves with what Cognito
  // asks for next (a challenge's name, or an authenticator's key) or with
  // the signed-in session; it rejects with an Error named by its code.
  function answer(call) {
    return new Promise((resolve, reject) => call({
      onSuccess: (session) => resolve({ session }),
      onFailure: (err) => {
        const e = new Error(String((err && err.message) || 'Sign-in failed. Please try again.'));
        e.name = String((err && (err.code || err.name)) || 'Error');
        reject(e);
      },
      newPasswordRequired: () => resolve({ challenge: 'NEW_PASSWORD_REQUIRED' }),
      mfaSetup: () => resolve({ challenge: 'MFA_SETUP' }),
      totpRequired: () => resolve({ challenge: 'SOFTWARE_TOKEN_MFA' }),
      mfaRequired: () => resolve({ challenge: 'SMS_MFA' }),
      selectMFAType: () => resolve({ challenge: 'SELECT_MFA_TYPE' }),
      customChallenge: () => resolve({ challenge: 'CUSTOM_CHALLENGE' }),
      associateSecretCode: (secret) => resolve({ secret }),
    }));
  }

  // next shows what a sign-in answer asks for, or returns its tokens.
  function next(a) {
    for (const f of [el.signInForm, el.newPasswordForm, el.mfaSetupForm, el.mfaForm]) f.hidden = true;
    switch (a.challenge || '') {
      case '': {
        const id = a.session && a.session.getIdToken();
        if (!id || !id.getJwtToken()) throw new Error('Sign-in failed. Please try again.');
        el.signInForm.hidden = false;
        return { token: id.getJwtToken(), expiresIn: Math.max(0, id.getExpiration() - Math.floor(Date.now() / 1000)) };
      }
      case 'NEW_PASSWORD_REQUIRED':
        el.newPasswordForm.hidden = false;
        el.newPassword.focus();
        return null;
      case 'MFA_SETUP':
        el.mfaSetupForm.hidden = false;
        setUpAuthenticator();
        return null;
      case 'SOFTWARE_TOKEN_MFA':
        el.mfaForm.hidden = false;
        el.mfaCode.focus();
        return null;
      default:
        el.signInForm.hidden = false;
        throw new Error('This account needs a sign-in step the console does not offer (' + a.challenge + '); ask an administrator.');
    }
  }

  async function setUpAuthenticator() {
    try {
      const a = await answer((cb) => pending.user.associateSoftwareToken(cb));
      const secret = String(a.secret || '');
      el.mfaSecret.textContent = secret.replace(/(.{4})/g, '$1 ').trim();
      el.mfaLink.href = 'otpauth://totp/' + encodeURIComponent('Patient Service Center:' + pending.username) +
        '?secret=' + encodeURIComponent(secret) + '&issuer=' + encodeURIComponent('Patient Service Center');
      el.mfaSetupCode.focus();
    } catch (err) {
      restartSignIn(signInMessage(err));
    }
  }

  function restartSignIn(message) {
    for (const f of [el.newPasswordForm, el.mfaSetupForm, el.mfaForm]) f.hidden = true;
    el.signInForm.hidden = false;
    pending.user = null;
    showError(message || 'Sign-in failed. Please start again.');
  }

  function signInMessage(err) {
    if (err.name === 'NotAuthorizedException' && /session/i.test(err.message)) return 'The sign-in took too long. Please start again.';
    if (err.name === 'NotAuthorizedException' || err.name === 'UserNotFoundException') return 'The username or password is not right.';
    if (err.name === 'PasswordResetRequiredException') return 'Your password must be reset; ask an administrator.';
    if (err.name === 'InvalidPasswordException') return err.message.replace(/^Password did not conform with policy: /, 'That password is not allowed: ') + '.';
    if (err.name === 'CodeMismatchException' || err.name === 'EnableSoftwareTokenMFAException') return 'That code is not right. Type the code your authenticator app shows now.';
    return err.message || 'Sign-in failed. Please try again.';
  }

  // step runs one step of the sign-in, then either waits for the next
  // form or opens the console.
  async function step(button, call) {
    clearError();
    button.disabled = true;
    try {
      if (!config) config = await loadConfig();
      const r = next(await call());
      if (r) signedIn(r);
    } catch (err) {
      if (err.name === 'NotAuthorizedException' && /session/i.test(err.message)) restartSignIn(signInMessage(err));
      else showError(signInMessage(err));
    } finally {
      button.disabled = false;
    }
  }

  function tokenClaims(t) {
    try {
      let part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      part += '='.repeat((4 - part.length % 4) % 4);
      const bytes = Uint8Array.from(atob(part), (ch) => ch.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch { return {}; }
  }

  function onSignIn(e) {
    e.preventDefault();
    const username = el.username.value.trim();
    const password = el.password.value;
    if (!username || !password) { showError('Enter your username and password.'); return; }
    pending.username = username;
    step(el.signInButton, () => {
      pending.user = newUser(username);
      const details = new window.AmazonCognitoIdentity.AuthenticationDetails({ Username: username, Password: password });
      return answer((cb) => pending.user.authenticateUser(details, cb));
    });
  }

  function onNewPassword(e) {
    e.preventDefault();
    const pw = el.newPassword.value;
    if (!pw) { showError('Choose a new password.'); return; }
    if (pw !== el.newPasswordAgain.value) { showError('The two passwords are not the same.'); return; }
    step(el.newPasswordButton, () => answer((cb) => pending.user.completeNewPasswordChallenge(pw, {}, cb)));
  }

  function onMfaSetup(e) {
    e.preventDefault();
    const code = el.mfaSetupCode.value.replace(/\s/g, '');
    if (!/^[0-9]{6}$/.test(code)) { showError('Type the 6-digit code from your authenticator app.'); return; }
    step(el.mfaSetupButton, () => answer((cb) => pending.user.verifySoftwareToken(code, 'authenticator', cb)));
  }

  function onMfa(e) {
    e.preventDefault();
    const code = el.mfaCode.value.replace(/\s/g, '');
    if (!/^[0-9]{6}$/.test(code)) { showError('Type the 6-digit code from your authenticator app.'); return; }
    step(el.mfaButton, () => answer((cb) => pending.user.sendMFACode(code, cb, 'SOFTWARE_TOKEN_MFA')));
  }

  function signedIn(r) {
    token = r.token;
    tokenExpires = Date.now() + r.expiresIn * 1000;
    for (const f of [el.password, el.newPassword, el.newPasswordAgain, el.mfaSetupCode, el.mfaCode]) f.value = '';
    el.mfaSecret.textContent = '';
    pending.user = null;
    memoryStorage.clear();
    const claims = tokenClaims(token);
    el.agentName.textContent = claims['custom:display_name'] || claims['cognito:username'] || pending.username;
    agentFirstName = String(el.agentName.textContent).split(' ')[0];
    supervisor = (claims['cognito:groups'] || []).includes('supervisor');
    el.supervision.hidden = !supervisor;
    // Supervisors sign in Away: no offers come to them unless they choose
    // (Available, or Take it on an urgent alert). Agents sign in Available.
    el.presence.value = supervisor ? 'away' : 'available';
    loadCanned();
    loadScripts();
    el.signIn.hidden = true;
    el.who.hidden = false;
    el.console.hidden = false;
    connect();
  }

  function signOut(message) {
    token = '';
    clearTimeout(retryTimer);
    clearInterval(queueTimer);
    if (sock) { const s = sock; sock = null; s.close(); }
    connected = false;
    for (const id of [...offers.keys()]) removeOffer(id);
    convs.clear();
    current = '';
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
      request({ action: 'conversations' });
      request({ action: 'queues' });
      request({ action: 'agents' });
      if (supervisor) { request({ action: 'floor' }); request({ action: 'tasks' }); request({ action: 'csat', weeks: 4 }); askKPIs(); }
      clearInterval(queueTimer);
      queueTimer = setInterval(() => {
        if (!connected || document.hidden) return;
        request({ action: 'queues' });
        request({ action: 'agents' });
        if (supervisor) request({ action: 'csat', weeks: 4 });
      }, QUEUES_EVERY_MS);
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
        presenceHint();
        if (req && req.then) request(req.then.frame, req.then.meta);
        if (f.status === 'away' && !req) showError('You were set to Away because an offer was not answered in time.');
        break;
      case 'offer': addOffer(f); break;
      case 'alert': addAlert(f); break;
      case 'assignment': onAssignment(f); break;
      case 'assigned': onAssigned(f); break;
      case 'message': if (monitoring && f.conversationId === monitoring.id) addMonitored(f); addMessage(f); break;
      case 'whisper': onWhisper(f); break;
      case 'supervising': onSupervising(f); break;
      case 'ack':
        // Sent with echo false: the ack is this console's copy of its message.
        if (req && req.action === 'send' && f.messageId) {
          addMessage({ type: 'message', conversationId: req.conversationId, messageId: f.messageId, from: { role: 'agent' }, text: req.text, at: f.at });
          const c = req.closeAfter && convs.get(req.conversationId);
          if (c) closeNow(c, req.closeAfter);
        }
        break;
      case 'typing': if (f.conversationId === current && f.role === 'patient') showTyping(); break;
      case 'status': onStatus(f); break;
      case 'context': if (req && req.action === 'monitor') onMonitorView(f); else onContext(f); break;
      case 'note': onNote(f); break;
      case 'queue': onQueues(f); break;
      case 'agents': onRoster(f); break;
      case 'floor': onFloor(f); break;
      case 'kpis': onKPIs(f); break;
      case 'conversations': onHeld(f); break;
      case 'slots': onSlots(f.slots || [], ''); break;
      case 'booked': onBooked(f); break;
      case 'cancelled': refreshAppointments(); break;
      case 'appointments': onAppointments(f); break;
      case 'task': tasks.set(f.task.taskId, f.task); renderTasks(); request({ action: 'csat', weeks: 4 }); break;
      case 'tasks': tasks.clear(); for (const x of f.tasks || []) tasks.set(x.taskId, x); renderTasks(); break;
      case 'csat': renderCSAT(f); break;
      case 'error': onError(f, req); break;
    }
  }

  function onError(f, req) {
    if (req && (req.action === 'book' || req.action === 'reschedule') && f.code === 'conflict' && f.alternatives) {
      onSlots(f.alternatives, 'That time was just taken. Here are the next open times.');
      return;
    }
    if (req && (req.action === 'accept' || req.action === 'decline')) removeOffer(req.conversationId);
    if (req && req.action === 'send' && req.closeAfter && convs.get(req.conversationId)) {
      // The closing message did not go: close anyway, and say so.
      closeNow(convs.get(req.conversationId), req.closeAfter);
      showError('The closing message was not sent (' + (f.message || f.code) + '); the conversation is being closed.');
      return;
    }
    if (req && req.action === 'assign') {
      const why = f.code === 'conflict' ? 'It no longer waits: someone has it, or the patient left.' : (f.message || 'Routing could not take it.');
      alertNote(req.conversationId, why, true);
      el.floorNote.textContent = why;
      return;
    }
    const c = req && convs.get(req.conversationId);
    if (c && (req.action === 'transfer' || req.action === 'handback' || req.action === 'close') && (c.state === 'transferring' || c.state === 'closing')) c.state = 'assigned';
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

  // A red flag the patient reported after the handoff: the patient has the
  // emergency guidance; the console shows it until it is dismissed and
  // marks the tab's title.
  function addAlert(f) {
    // One alert per conversation: a newer one replaces it.
    for (const old of el.alerts.querySelectorAll('li')) {
      if (old.dataset.conversationId === f.conversationId) old.remove();
    }
    const li = document.createElement('li');
    li.className = 'alert priority-urgent';
    li.dataset.conversationId = f.conversationId;
    const text = document.createElement('p');
    text.textContent = 'URGENT · ' + (f.summary || 'Red flag reported') + (convs.has(f.conversationId) ? '' : ' (conversation ' + f.conversationId + ', ' + f.state + ')');
    li.append(text);
    if (convs.has(f.conversationId)) {
      const open = document.createElement('button');
      open.type = 'button';
      open.textContent = 'Open conversation';
      open.addEventListener('click', () => show(f.conversationId));
      li.append(open);
    } else if (supervisor && f.state !== 'assigned') {
      // No one has it: a supervisor takes it (routing offers it to them,
      // whatever their skills; they accept it like any offer).
      const take = document.createElement('button');
      take.type = 'button';
      take.className = 'take';
      take.textContent = 'Take it';
      take.addEventListener('click', () => {
        // Routing offers only to someone available: a supervisor who is
        // not becomes available first, then asks.
        const assign = { frame: { action: 'assign', conversationId: f.conversationId }, meta: { conversationId: f.conversationId } };
        const asked = el.presence.value === 'available' ? request(assign.frame, assign.meta)
          : request({ action: 'presence', status: 'available' }, { then: assign });
        if (asked) {
          take.disabled = true;
          alertNote(f.conversationId, 'Asking routing to offer it to you…');
        }
      });
      li.append(take);
    }
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.textContent = 'Dismiss';
    dismiss.addEventListener('click', () => {
      li.remove();
      el.alertsHeading.hidden = el.alerts.children.length === 0;
      if (el.alerts.children.length === 0) document.title = document.title.replace(/^⚠ /, '');
    });
    li.append(dismiss);
    el.alerts.prepend(li);
    el.alertsHeading.hidden = false;
    if (!document.title.startsWith('⚠ ')) document.title = '⚠ ' + document.title;
  }

  // alertNote shows what became of a supervisor's "Take it" on an alert.
  function alertNote(conversationId, text, failed) {
    for (const li of el.alerts.querySelectorAll('li')) {
      if (li.dataset.conversationId !== conversationId) continue;
      let note = li.querySelector('.alert-note');
      if (!note) {
        note = document.createElement('p');
        note.className = 'alert-note';
        note.setAttribute('role', 'status');
        li.append(note);
      }
      note.textContent = text;
      const take = li.querySelector('button.take');
      if (take) take.disabled = !failed;
    }
  }

  function onAssignment(f) {
    const to = roster.find((a) => a.agentId === f.agentId);
    const mine = !to || to.name === el.agentName.textContent;
    if (f.ok) alertNote(f.conversationId, 'Offered to you: accept it under Offers.', false);
    else alertNote(f.conversationId, 'Not offered to you: ' + (f.reason || 'routing could not') + '.', true);
    const who = mine ? 'you' : to.name;
    el.floorNote.textContent = f.ok ? 'Offered to ' + who + (mine ? ': accept it under Offers.' : '.') : 'Not offered to ' + who + ': ' + (f.reason || 'routing could not') + '.';
  }

  // ---- the supervisors' figures ----

  function askKPIs() { request({ action: 'kpis', by: el.kpiBy.value, days: Number(el.kpiDays.value) }); }

  const pct = (x) => Math.round(x * 100) + '%';
  const secs = (x) => (x ? duration(Math.round(x)) : '—');

  // KPI_COLUMNS are the figures as the table and the CSV show them.
  const KPI_COLUMNS = [
    ['key', (r) => r.key], ['offered', (r) => String(r.offered)], ['handled', (r) => String(r.handled)], ['abandoned', (r) => String(r.abandoned)],
    ['average wait', (r) => secs(r.averageWaitSeconds)], ['90% wait', (r) => secs(r.p90WaitSeconds)], ['average handle', (r) => secs(r.averageHandleSeconds)],
    ['service level', (r) => pct(r.serviceLevel)], ['transfers', (r) => pct(r.transferRate)], ['bot containment', (r) => pct(r.containment)],
    ['CSAT', (r) => (r.rated ? r.csat.toFixed(1) + ' of 5 (' + r.rated + ')' : '—')], ['satisfied', (r) => (r.rated ? pct(r.satisfied) : '—')],
  ];

  function onKPIs(f) {
    // An older answer (the figures asked for on connect) may arrive after
    // the one the supervisor asked for since: only the grouping chosen is
    // shown.
    if (f.by && f.by !== el.kpiBy.value) return;
    kpiRows = f;
    const body = el.kpis.tBodies[0];
    body.replaceChildren();
    for (const r of f.rows || []) {
      const tr = document.createElement('tr');
      for (const [, show] of KPI_COLUMNS) {
        const td = document.createElement('td');
        td.textContent = show(r);
        tr.append(td);
      }
      body.append(tr);
    }
    if (!(f.rows || []).length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = KPI_COLUMNS.length;
      td.textContent = 'No figures for these days yet.';
      tr.append(td);
      body.append(tr);
    }
    el.kpiCsv.disabled = false;
    drawKPIChart(f);
  }

  // The figures' chart: per row (queue, agent, day or hour), the handled
  // and abandoned conversations as bars side by side and the average wait
  // as a line on its own scale. uPlot (scripts/tools.sh pins it) draws it;
  // without it, or without rows, the table stays alone.
  let kpiPlot = null;
  let kpiChartData = null;
  function drawKPIChart(f) {
    if (kpiPlot) { kpiPlot.destroy(); kpiPlot = null; }
    kpiChartData = null;
    const rows = f.rows || [];
    el.kpiFigure.hidden = !rows.length || typeof window.uPlot !== 'function';
    if (el.kpiFigure.hidden) return;
    const labels = rows.map((r) => (r.key.length > 14 ? r.key.slice(0, 8) + '…' : r.key));
    const data = [rows.map((_, i) => i), rows.map((r) => r.handled), rows.map((r) => r.abandoned), rows.map((r) => Math.round(r.averageWaitSeconds))];
    kpiChartData = { by: f.by, labels, handled: data[1], abandoned: data[2], averageWaitSeconds: data[3] };
    const bars = (align) => window.uPlot.paths.bars({ size: [0.35, 40], align });
    const { by } = f;
    el.kpiChart.setAttribute('aria-label', 'Chart of handled, abandoned and average wait by ' + by + ': ' +
      rows.map((r, i) => labels[i] + ' ' + r.handled + ' handled, ' + r.abandoned + ' abandoned, ' + data[3][i] + ' s wait').join('; ') + '.');
    kpiPlot = new window.uPlot({
      width: Math.max(320, Math.min(960, el.kpiFigure.clientWidth || 640)),
      height: 220,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: () => [-0.5, rows.length - 0.5] }, n: { range: (u, lo, hi) => [0, Math.max(1, hi)] }, s: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
      axes: [
        { splits: () => data[0], values: (u, splits) => splits.map((i) => labels[i] || '') },
        { scale: 'n', label: 'conversations' },
        { scale: 's', side: 1, label: 'seconds', grid: { show: false } },
      ],
      series: [
        {},
        { label: 'handled', scale: 'n', fill: '#1d4ed8', stroke: '#1d4ed8', paths: bars(-1), points: { show: false } },
        { label: 'abandoned', scale: 'n', fill: '#b91c1c', stroke: '#b91c1c', paths: bars(1), points: { show: false } },
        { label: 'average wait', scale: 's', stroke: '#92400e', width: 2, points: { show: true, size: 6 } },
      ],
    }, data, el.kpiChart);
  }

  // kpiCSV is the figures as CSV, raw numbers (seconds, shares from 0 to 1).
  function kpiCSV(f) {
    const cols = ['key', 'escalated', 'offered', 'handled', 'abandoned', 'contained', 'transferred', 'averageWaitSeconds', 'p90WaitSeconds',
      'averageHandleSeconds', 'serviceLevel', 'transferRate', 'containment', 'rated', 'csat', 'satisfied'];
    const cell = (v) => (/[",\n]/.test(String(v)) ? '"' + String(v).replace(/"/g, '""') + '"' : String(v));
    return [cols.join(',')].concat((f.rows || []).map((r) => cols.map((c) => cell(r[c])).join(','))).join('\n') + '\n';
  }

  function downloadKPIs() {
    if (!kpiRows) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([kpiCSV(kpiRows)], { type: 'text/csv' }));
    a.download = 'psc-figures-by-' + kpiRows.by + '-' + kpiRows.days[0] + '-to-' + kpiRows.days[kpiRows.days.length - 1] + '.csv';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  window.PSCConsole = Object.assign(window.PSCConsole || {}, { kpiCSV: () => (kpiRows ? kpiCSV(kpiRows) : ''), kpiChart: () => kpiChartData });

  // ---- the supervisors' floor ----

  // onFloor keeps the floor: the whole of it, or (pushed as conversations
  // change) the rows that changed; a row marked done has left it.
  function onFloor(f) {
    if (!f.changes) floor.clear();
    if (f.at) floorSkew = Date.parse(f.at) - Date.now();
    for (const r of f.conversations || []) {
      if (r.done) { floor.delete(r.conversationId); assignPicks.delete(r.conversationId); }
      else floor.set(r.conversationId, r);
    }
    renderFloor();
  }

  // The floor's durations tick in place, every second.
  setInterval(() => {
    if (!supervisor || document.hidden) return;
    for (const tr of el.floor.tBodies[0].rows) {
      const r = floor.get(tr.dataset.conversationId);
      if (r) tr.cells[5].textContent = floorFor(r);
    }
  }, 1000);

  const FLOOR_RANK = { urgent: 0, high: 1, normal: 2 };
  const floorWaits = (r) => r.state === 'waiting' || r.state === 'escalated' || r.state === 'offered';

  // floorFor is how long a row has been in its present stage: waiting
  // since the handoff, or with its agent since it took its state.
  function floorFor(r) {
    const from = Date.parse(floorWaits(r) ? (r.handedOffAt || r.since) : r.since);
    return Number.isNaN(from) ? '' : duration(Math.max(0, Math.floor((Date.now() + floorSkew - from) / 1000)));
  }

  // renderFloor rebuilds the table when rows change (not every second:
  // the durations tick in place, so a select keeps its focus).
  function renderFloor() {
    const rows = [...floor.values()].sort((a, b) => (floorWaits(b) - floorWaits(a)) || ((FLOOR_RANK[a.priority] ?? 3) - (FLOOR_RANK[b.priority] ?? 3)) ||
      String(a.handedOffAt || '').localeCompare(String(b.handedOffAt || '')));
    const body = el.floor.tBodies[0];
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : '';
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.dataset.conversationId = r.conversationId;
      if (r.priority === 'urgent') tr.className = 'has-urgent';
      const flags = (r.redFlags || []).length ? ' · red flag: ' + r.redFlags.join(', ').replace(/_/g, ' ') : '';
      for (const v of ['…' + r.conversationId.slice(-6), r.queue || '', (r.priority || 'normal') + flags, r.state, r.agentName || '', floorFor(r)]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      tr.cells[5].className = 'floor-for';
      const act = document.createElement('td');
      if (floorWaits(r) && r.state !== 'offered') act.append(...assignControls(r));
      else if (r.state === 'assigned' && r.agentName !== el.agentName.textContent) act.append(monitorButton(r), ...reassignControls(r));
      tr.append(act);
      body.append(tr);
    }
    el.floorCount.textContent = String(rows.length);
    if (focused) {
      const again = body.querySelector('[data-focus-key="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
  }

  // monitorButton opens the monitor dialog for a conversation an agent
  // holds: the reason is asked first (it is kept in the audit trail).
  function monitorButton(r) {
    const b = button(monitoring && monitoring.id === r.conversationId ? 'Monitoring' : 'Monitor', 'secondary small', () => {
      monitorAsk = r.conversationId;
      el.monitorReason.value = '';
      el.monitorDialog.showModal();
      el.monitorReason.focus();
    });
    b.disabled = Boolean(monitoring && monitoring.id === r.conversationId);
    b.dataset.focusKey = 'monitor-' + r.conversationId;
    return b;
  }

  function startMonitor(e) {
    e.preventDefault();
    const reason = el.monitorReason.value.trim();
    if (reason.length < 10) { el.monitorReason.reportValidity(); return; }
    el.monitorDialog.close();
    if (monitoring && monitoring.id !== monitorAsk) request({ action: 'unmonitor', conversationId: monitoring.id });
    request({ action: 'monitor', conversationId: monitorAsk, reason }, { conversationId: monitorAsk });
  }

  // onMonitorView opens the monitor panel with the patient view's
  // transcript; live messages follow (addMonitored).
  function onMonitorView(f) {
    if (f.timeZone) clinicZone = f.timeZone;
    monitoring = { id: f.conversationId, messages: new Map(), joined: false };
    el.monitorWho.textContent = '…' + f.conversationId.slice(-6) + (f.handoff ? ' · ' + f.handoff.queue : '');
    el.monitorLog.replaceChildren();
    for (const m of f.transcript || []) addMonitored(m);
    el.monitorSendForm.hidden = true;
    el.barge.disabled = false;
    el.monitor.hidden = false;
    renderFloor();
    el.monitorLog.focus();
  }

  function addMonitored(m) {
    if (!monitoring || monitoring.messages.has(m.messageId)) return;
    monitoring.messages.set(m.messageId, m);
    el.monitorLog.append(messageItem(m));
    el.monitorLog.scrollTop = el.monitorLog.scrollHeight;
  }

  // whisperItem is a supervisor's whisper in a log: marked as seen by the
  // agent only.
  function whisperItem(f) {
    const li = document.createElement('li');
    li.className = 'msg msg-whisper';
    const who = document.createElement('span');
    who.className = 'msg-from';
    who.textContent = 'Whisper from ' + ((f.from && f.from.name) || 'a supervisor') + ' (the patient does not see this)';
    const text = document.createElement('p');
    text.className = 'msg-text';
    text.textContent = f.text;
    li.append(who, text);
    return li;
  }

  function onWhisper(f) {
    if (monitoring && monitoring.id === f.conversationId) {
      el.monitorLog.append(whisperItem(f));
      el.monitorLog.scrollTop = el.monitorLog.scrollHeight;
    }
    if (convs.has(f.conversationId) && f.conversationId === current) {
      el.messages.append(whisperItem(f));
      scrollDown();
    } else if (convs.has(f.conversationId)) {
      showNotice('Whisper from ' + ((f.from && f.from.name) || 'a supervisor') + ' about ' + convs.get(f.conversationId).patient + ': ' + f.text);
    }
  }

  function onSupervising(f) {
    if (f.action === 'barge' && monitoring && monitoring.id === f.conversationId) {
      monitoring.joined = true;
      el.monitorSendForm.hidden = false;
      el.barge.disabled = true;
      el.monitorText.focus();
    }
    if (f.action === 'unmonitor' && monitoring && monitoring.id === f.conversationId) {
      monitoring = null;
      el.monitor.hidden = true;
      renderFloor();
    }
  }

  // reassignControls: move a conversation an agent holds to another agent
  // available with room (a transfer in the supervisor's name).
  function reassignControls(r) {
    const pick = document.createElement('select');
    pick.dataset.focusKey = 'repick-' + r.conversationId;
    pick.setAttribute('aria-label', 'Reassign conversation …' + r.conversationId.slice(-6) + ' to');
    for (const a of roster) {
      if (a.presence === 'available' && a.active < a.capacity && a.agentId !== r.agentId) pick.append(new Option(a.name, a.agentId));
    }
    const go = button('Reassign', 'secondary small', () => {
      if (!pick.value) return;
      const name = pick.options[pick.selectedIndex].text;
      if (request({ action: 'transfer', conversationId: r.conversationId, agentId: pick.value, reason: 'Reassigned by a supervisor' }, { conversationId: r.conversationId })) {
        el.floorNote.textContent = 'Reassigning …' + r.conversationId.slice(-6) + ' to ' + name + '…';
      }
    });
    go.dataset.focusKey = 'reassign-' + r.conversationId;
    disableIfNoOne(go, pick);
    return [pick, go];
  }

  // assignControls: a list of the agents who can take it now (available,
  // with room) and Assign; Take it for the supervisor themself.
  function assignControls(r) {
    const pick = document.createElement('select');
    pick.dataset.focusKey = 'pick-' + r.conversationId;
    pick.setAttribute('aria-label', 'Agent for conversation …' + r.conversationId.slice(-6));
    for (const a of roster) {
      if (a.presence === 'available' && a.active < a.capacity && a.name !== el.agentName.textContent) pick.append(new Option(a.name, a.agentId));
    }
    // The floor is drawn again whenever it or the roster changes: the
    // agent the supervisor chose stays chosen while they can be.
    const chosen = assignPicks.get(r.conversationId);
    if (chosen && [...pick.options].some((o) => o.value === chosen)) pick.value = chosen;
    pick.addEventListener('change', () => assignPicks.set(r.conversationId, pick.value));
    const assign = button('Assign', 'small', () => {
      if (!pick.value) return;
      if (request({ action: 'assign', conversationId: r.conversationId, agentId: pick.value }, { conversationId: r.conversationId })) {
        el.floorNote.textContent = 'Asking routing to offer …' + r.conversationId.slice(-6) + ' to ' + pick.options[pick.selectedIndex].text + '…';
      }
    });
    assign.dataset.focusKey = 'assign-' + r.conversationId;
    disableIfNoOne(assign, pick);
    const take = button('Take it', 'secondary small', () => {
      // Routing offers only to someone available: a supervisor who is not
      // becomes available first, then asks.
      const frame = { action: 'assign', conversationId: r.conversationId };
      const then = { frame, meta: { conversationId: r.conversationId } };
      const asked = el.presence.value === 'available' ? request(frame, then.meta) : request({ action: 'presence', status: 'available' }, { then });
      if (asked) el.floorNote.textContent = 'Asking routing to offer …' + r.conversationId.slice(-6) + ' to you…';
    });
    take.dataset.focusKey = 'take-' + r.conversationId;
    return [pick, assign, take];
  }

  // disableIfNoOne disables the button acting on pick's agent when pick
  // offers no one, and pick says so.
  function disableIfNoOne(b, pick) {
    b.disabled = pick.options.length === 0;
    if (b.disabled) pick.append(new Option('No one available', ''));
  }

  // announceOffer makes a new offer heard and seen away from the console: a
  // short tone (higher for urgent ones) unless the agent turned it off, and
  // a desktop notification when the tab is hidden and the agent allowed
  // them. The notification names the queue and priority only: no patient
  // words on a screen others may see.
  let audio = null;
  function announceOffer(o) {
    if (el.offerSound.checked) {
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        tone.frequency.value = o.priority === 'urgent' ? 880 : 660;
        gain.gain.value = 0.15;
        tone.connect(gain).connect(audio.destination);
        tone.start();
        tone.stop(audio.currentTime + 0.25);
      } catch { /* no audio here: the title and the list still say it */ }
    }
    if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
      const n = new Notification('New ' + (o.priority || 'normal') + ' conversation offered', { body: 'Queue: ' + o.queue, tag: 'offer-' + o.conversationId });
      n.onclick = () => { window.focus(); n.close(); };
    }
  }

  function enableNotifications() {
    if (!('Notification' in window)) { showNotice('This browser has no desktop notifications.'); return; }
    Notification.requestPermission().then((p) => {
      showNotice(p === 'granted' ? 'Desktop notifications are on for new offers while this tab is hidden.' : 'Desktop notifications are off (blocked in the browser).');
    });
  }

  // Offers: each card is built once and only its countdown changes, so
  // focus stays on its buttons (a keyboard user can tab to Accept and
  // press Enter) and the live list announces new offers only. The tab's
  // title counts them.
  function addOffer(f) {
    if (offers.has(f.conversationId) || convs.has(f.conversationId)) return;
    const o = { ...f };
    offers.set(f.conversationId, o);
    o.li = offerCard(o);
    el.offers.append(o.li);
    announceOffer(o);
    o.timer = setInterval(() => {
      if (Date.parse(o.expiresAt) <= Date.now()) removeOffer(o.conversationId);
      else o.countdown.textContent = secondsLeft(o) + ' s left';
    }, 1000);
    offersChanged();
  }

  function removeOffer(id) {
    const o = offers.get(id);
    if (!o) return;
    clearInterval(o.timer);
    offers.delete(id);
    o.li.remove();
    offersChanged();
  }

  function secondsLeft(o) {
    return Math.max(0, Math.round((Date.parse(o.expiresAt) - Date.now()) / 1000));
  }

  function offerCard(o) {
    const li = document.createElement('li');
    li.className = 'offer priority-' + o.priority;
    li.dataset.conversationId = o.conversationId;
    const title = document.createElement('p');
    title.className = 'offer-title';
    title.textContent = o.queue + ' · ' + o.priority + (o.language ? ' · ' + o.language : '');
    const summary = document.createElement('p');
    summary.className = 'offer-summary';
    summary.textContent = o.summary || '';
    o.countdown = document.createElement('p');
    o.countdown.className = 'countdown';
    o.countdown.textContent = secondsLeft(o) + ' s left';
    const accept = button('Accept', 'primary accept', () => {
      if (request({ action: 'accept', conversationId: o.conversationId }, { conversationId: o.conversationId })) accept.disabled = true;
    });
    accept.setAttribute('aria-label', 'Accept the ' + o.priority + ' ' + o.queue + ' conversation');
    const decline = button('Decline', 'secondary decline', () => {
      if (request({ action: 'decline', conversationId: o.conversationId }, { conversationId: o.conversationId })) removeOffer(o.conversationId);
    });
    decline.setAttribute('aria-label', 'Decline the ' + o.priority + ' ' + o.queue + ' conversation');
    li.append(title, summary, o.countdown, accept, decline);
    return li;
  }

  // presenceHint says, while the agent holds nothing, what their presence
  // means: agents sign in Available, supervisors Away.
  function presenceHint() {
    el.noConversations.textContent = el.presence.value === 'available'
      ? 'No conversations yet. You are Available: offers appear under Incoming. Set Away to pause them.'
      : supervisor ? 'No conversations. As a supervisor you get no offers until you set Available (or use Take it on an urgent alert).'
        : 'No conversations yet. Set your presence to Available to receive them.';
  }

  function offersChanged() {
    el.offerCount.textContent = String(offers.size);
    const t = document.title.replace(/\(\d+\) /, '');
    const at = t.startsWith('⚠ ') ? 2 : 0;
    document.title = offers.size ? t.slice(0, at) + '(' + offers.size + ') ' + t.slice(at) : t;
  }

  function onAssigned(f) {
    const o = offers.get(f.conversationId) || {};
    removeOffer(f.conversationId);
    if (convs.has(f.conversationId)) return;
    hold(f.conversationId, (f.patient && f.patient.name) || 'Patient', 'assigned', o);
    renderConversations();
    show(f.conversationId);
    el.input.focus();
  }

  // hold adds a conversation of ours and asks for its patient view (an
  // audited read), which also brings its history.
  function hold(id, patient, state, o) {
    convs.set(id, {
      id, patient, state, summary: o.summary || '', queue: o.queue || '', priority: o.priority || '', language: o.language || '',
      messages: new Map(), context: null, notes: [], appointments: [],
    });
    request({ action: 'context', conversationId: id }, { conversationId: id });
  }

  // onHeld restores the conversations we hold after a reload or reconnect.
  function onHeld(f) {
    for (const h of f.conversations || []) {
      if (!convs.has(h.conversationId)) hold(h.conversationId, (h.patient && h.patient.name) || 'Patient', h.state, {});
    }
    renderConversations();
    if (!current && convs.size) show(convs.keys().next().value);
  }

  // ---- conversations ----

  function renderConversations() {
    el.conversations.replaceChildren();
    // A tablist of tabs (ARIA's tabs pattern): each conversation a tab
    // controlling the workspace, the shown one selected.
    for (const c of convs.values()) {
      const b = button(c.patient + (c.state === 'closed' ? ' (ended)' : ''), 'tab', () => show(c.id));
      b.setAttribute('role', 'tab');
      b.setAttribute('aria-selected', String(c.id === current));
      b.setAttribute('aria-controls', 'workspace');
      b.dataset.conversationId = c.id;
      el.conversations.append(b);
    }
    el.noConversations.hidden = convs.size > 0;
    presenceHint();
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
    const x = c.context || {};
    const h = x.handoff || {};
    // Identity: a verified patient typed the code sent to the email on
    // file; an anonymous one's name is what they typed.
    const identity = x.identity === 'verified' ? 'Verified (one-time code or hospital sign-in)' : (x.identity ? 'Not verified: name as typed' : '');
    definitions(el.context, [['Name', c.patient], ['Identity', identity], ['Language', languageName(x.locale || c.language)], ['Topic', x.topic],
      ['Queue', c.queue || h.queue], ['Priority', c.priority || h.priority]]);
    const collected = Object.entries(h.collected || {}).map(([k, v]) => k + ': ' + v).join('\n');
    const tr = h.transfer;
    definitions(el.handoff, [['Transferred', tr ? 'by ' + tr.by + (tr.reason ? ': ' + tr.reason : '') : ''],
      ['Reason', (h.reason || '').replace(/_/g, ' ')], ['Triage level', (h.triageLevel || '').replace(/_/g, ' ')],
      ['Red flags', (h.redFlags || []).join(', ').replace(/_/g, ' '), 'red-flag'], ['Collected', collected], ['Summary', h.summary || c.summary]]);
    // The conversation before the agent joined is in the message log (the
    // context's transcript is merged into it), shown once.
    el.transcriptEarlier.hidden = !x.earlier;
    el.notes.replaceChildren(...c.notes.map((n) => entry(n.agent + ' · ' + clockTime(n.at, true), n.text)));
    if (!c.notes.length) el.notes.append(entry('', 'No notes yet.'));
    renderAppointments(c);
    renderScript(c);
  }

  // ---- supervision: follow-ups and satisfaction ----

  function renderTasks() {
    el.tasks.replaceChildren();
    for (const x of [...tasks.values()].sort((a, b) => a.createdAt < b.createdAt ? -1 : 1)) {
      const what = x.reason + ' · CSAT ' + x.csat + (x.agent ? ' · ' + x.agent : '') + (x.queue ? ' · ' + x.queue : '') + ' · ' + clockTime(x.createdAt, true);
      const li = entry(what, x.comment || '(no comment)');
      li.dataset.taskId = x.taskId;
      const done = button('Mark done', 'secondary small', () => request({ action: 'closeTask', taskId: x.taskId }));
      done.setAttribute('aria-label', 'Mark the follow-up of ' + clockTime(x.createdAt, true) + ' done');
      li.append(done);
      el.tasks.append(li);
    }
    if (!tasks.size) el.tasks.append(entry('', 'No open follow-ups.'));
    el.taskCount.textContent = String(tasks.size);
  }

  function renderCSAT(f) {
    const fill = (tbody, figures) => {
      tbody.replaceChildren();
      for (const g of figures || []) {
        const tr = document.createElement('tr');
        tr.dataset.group = g.group;
        for (const v of [g.group, g.answered ? g.averageCsat.toFixed(1) : '—', String(g.answered), String(g.sent)]) {
          const td = document.createElement('td');
          td.textContent = v;
          tr.append(td);
        }
        tbody.append(tr);
      }
    };
    fill(el.csatByAgent, f.byAgent);
    fill(el.csatByQueue, f.byQueue);
    fill(el.csatByWeek, f.byWeek);
    const o = f.overall || {};
    el.csatOverall.textContent = o.sent ? 'Overall CSAT ' + (o.answered ? o.averageCsat.toFixed(1) : '—') + ' from ' + o.answered + ' of ' + o.sent +
      ' surveys (' + Math.round(100 * o.responseRate) + '% answered).' : 'No surveys in these weeks yet.';
  }

  // ---- appointments ----

  // when writes a visit's time in the location's zone, labelled ("Tue, Dec 8,
  // 8:00 AM EST"), as the patient is told it; the browser's own zone may
  // be another.
  function when(iso, zone) {
    const opts = { weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };
    try {
      return new Date(iso).toLocaleString('en-US', zone ? { ...opts, timeZone: zone } : opts);
    } catch (e) {                      // a zone this browser does not know
      return new Date(iso).toLocaleString('en-US', opts);
    }
  }

  function slotText(sl) {
    return when(sl.start, sl.timeZone) + ' · ' + sl.provider.name + ' · ' + sl.visitType.name + ' · ' + sl.location.name;
  }

  function renderAppointments(c) {
    el.appointments.replaceChildren();
    for (const a of c.appointments || []) {
      const li = entry(a.state === 'rescheduled' ? 'Moved' : 'Booked', slotText(a.slot));
      li.dataset.appointmentId = a.appointmentId;
      const row = document.createElement('div');
      row.className = 'appointment-actions';
      const move = button('Move…', 'secondary small', () => openBook(a.appointmentId));
      move.setAttribute('aria-label', 'Move the appointment of ' + when(a.slot.start, a.slot.timeZone));
      const cancel = button('Cancel', 'secondary small', () => {
        if (window.confirm('Cancel the appointment of ' + when(a.slot.start, a.slot.timeZone) + '?')) request({ action: 'cancel', appointmentId: a.appointmentId }, { conversationId: c.id });
      });
      cancel.setAttribute('aria-label', 'Cancel the appointment of ' + when(a.slot.start, a.slot.timeZone));
      row.append(move, cancel);
      li.append(row);
      el.appointments.append(li);
    }
    if (!(c.appointments || []).length) el.appointments.append(entry('', 'None.'));
    el.bookOpen.disabled = c.state !== 'assigned';
  }

  function refreshAppointments() {
    if (current) request({ action: 'appointments', conversationId: current }, { conversationId: current });
  }

  function onAppointments(f) {
    const c = convs.get(f.conversationId);
    if (!c) return;
    c.appointments = f.appointments || [];
    if (c.id === current) renderAppointments(c);
  }

  function openBook(appointmentId) {
    const c = convs.get(current);
    if (!c || c.state !== 'assigned') return;
    moving = appointmentId || '';
    const appt = (c.appointments || []).find((a) => a.appointmentId === moving);
    movingSlot = appt ? appt.slot : null;
    // Every opening starts a fresh search: a move searches the same kind
    // of visit from today, a booking from today in any mode.
    el.bookFor.textContent = movingSlot ? 'Moving ' + c.patient + "'s " + movingSlot.visitType.name + ' with ' + movingSlot.provider.name + ' on ' + when(movingSlot.start, movingSlot.timeZone) +
      '. The new time keeps this kind of visit.' : 'For ' + c.patient;
    el.bookChangeField.hidden = !movingSlot;
    el.bookChange.checked = false;
    if (movingSlot) el.bookSpecialty.value = movingSlot.specialty;
    el.bookSpecialty.disabled = !!movingSlot;
    el.bookMode.value = '';
    el.bookFrom.value = new Date().toISOString().slice(0, 10);
    el.bookSlots.replaceChildren();
    el.bookSlotsSet.hidden = true;
    el.bookResult.textContent = '';
    el.bookConfirm.disabled = true;
    el.bookConfirm.textContent = moving ? 'Move' : 'Book';
    el.bookDialog.showModal();
    (movingSlot ? el.bookFrom : el.bookSpecialty).focus();
  }

  // onChangeVisit unlocks the kind of care for a deliberate change of a
  // move's kind of visit, or locks it back to the appointment's.
  function onChangeVisit() {
    if (!movingSlot) return;
    el.bookSpecialty.disabled = !el.bookChange.checked;
    if (!el.bookChange.checked) el.bookSpecialty.value = movingSlot.specialty;
    el.bookSlots.replaceChildren();
    el.bookSlotsSet.hidden = true;
    el.bookConfirm.disabled = true;
    el.bookResult.textContent = el.bookChange.checked ? 'Choose the new kind of care, then find open times.' : '';
  }

  function searchSlots() {
    const from = new Date((el.bookFrom.value || new Date().toISOString().slice(0, 10)) + 'T00:00:00');
    const to = new Date(from.getTime() + 14 * 24 * 3600 * 1000);
    const frame = { action: 'slots', specialty: el.bookSpecialty.value, from: from.toISOString().replace(/\.\d+Z$/, 'Z'), to: to.toISOString().replace(/\.\d+Z$/, 'Z') };
    if (el.bookMode.value) frame.mode = el.bookMode.value;
    if (movingSlot && !el.bookChange.checked) frame.visitType = movingSlot.visitType.id;
    el.bookResult.textContent = 'Searching…';
    request(frame);
  }

  function onSlots(slots, message) {
    el.bookSlots.replaceChildren();
    slots.forEach((sl, i) => {
      const label = document.createElement('label');
      const radio = document.createElement('input');
      radio.type = 'radio';
      radio.name = 'slot';
      radio.value = sl.slotId;
      radio.addEventListener('change', () => { el.bookConfirm.disabled = false; });
      label.append(radio, ' ' + slotText(sl));
      el.bookSlots.append(label);
      if (i === 0) radio.dataset.first = 'true';
    });
    el.bookSlotsSet.hidden = slots.length === 0;
    el.bookConfirm.disabled = true;
    el.bookResult.textContent = message || (slots.length ? slots.length + ' open times. Choose one.' : 'No open times in these two weeks; try later dates.');
    const first = el.bookSlots.querySelector('input');
    if (first) first.focus();
  }

  function confirmBook(e) {
    e.preventDefault();
    const c = convs.get(current);
    const picked = el.bookSlots.querySelector('input:checked');
    if (!c || !picked) return;
    el.bookConfirm.disabled = true;
    if (moving) request({ action: 'reschedule', appointmentId: moving, slotId: picked.value, changeVisit: el.bookChange.checked }, { conversationId: c.id });
    else request({ action: 'book', conversationId: c.id, slotId: picked.value }, { conversationId: c.id });
  }

  function onBooked(f) {
    el.bookResult.textContent = (f.appointment.state === 'rescheduled' ? 'Moved to ' : 'Booked: ') + slotText(f.appointment.slot) +
      '. Confirmation ' + f.appointmentId.slice(2, 10).toUpperCase() + '. The patient gets the confirmation in the chat and by email.';
    el.bookSlotsSet.hidden = true;
    moving = '';
    movingSlot = null;
    refreshAppointments();
  }

  function definitions(dl, rows) {
    dl.replaceChildren();
    for (const [k, v, cls] of rows) {
      if (!v) continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      dl.append(dt, dd);
    }
  }

  function entry(who, text) {
    const li = document.createElement('li');
    if (who) {
      const w = document.createElement('span');
      w.className = 'who';
      w.textContent = who;
      li.append(w);
    }
    li.append(document.createTextNode(text));
    return li;
  }

  function languageName(l) { return { en: 'English', es: 'Spanish' }[l] || l || ''; }

  // clockTime is a time of day in the clinic's zone, labelled (10:05 AM
  // EST), as visits are: the agent's own clock may be elsewhere.
  function clockTime(iso, withDate) {
    const opts = withDate ? { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }
      : { hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };
    try {
      return new Date(iso).toLocaleString('en-US', clinicZone ? { ...opts, timeZone: clinicZone } : opts);
    } catch {
      return new Date(iso).toLocaleString('en-US', opts);
    }
  }

  function onContext(f) {
    if (f.timeZone && f.timeZone !== clinicZone) {
      clinicZone = f.timeZone;
      if (current) show(current); // the log's times again, in the clinic's zone
    }
    const c = convs.get(f.conversationId);
    if (!c) return;
    c.context = f;
    c.notes = f.notes || [];
    c.appointments = f.appointments || [];
    if (!c.language) c.language = f.locale;
    if (!c.queue && f.handoff) { c.queue = f.handoff.queue; c.priority = f.handoff.priority; }
    // The history, for a conversation restored after a reload.
    let added = false;
    for (const m of f.transcript || []) {
      if (!c.messages.has(m.messageId)) { c.messages.set(m.messageId, m); added = true; }
    }
    if (f.conversationId === current) {
      if (added) show(c.id); else renderContext(c);
    }
  }

  function onNote(f) {
    const c = convs.get(f.conversationId);
    if (!c) return;
    c.notes.push(f);
    if (f.conversationId === current) renderContext(c);
  }

  function saveNote(e) {
    e.preventDefault();
    const c = convs.get(current);
    const text = el.noteInput.value.trim();
    if (!c || !text) return;
    if (request({ action: 'note', conversationId: c.id, text }, { conversationId: c.id })) el.noteInput.value = '';
  }

  // ---- queues and transfer ----

  // onRoster keeps the agents' roster (for a transfer to a colleague) and,
  // for supervisors, shows it: presence, for how long, load against
  // capacity.
  function onRoster(f) {
    if (f.changes) {
      // Pushed as agents change: merge; one offline with nothing held leaves.
      for (const a of f.agents || []) {
        roster = roster.filter((x) => x.agentId !== a.agentId);
        if (a.presence !== 'offline' || a.active > 0) roster.push(a);
      }
      roster.sort((a, b) => a.name.localeCompare(b.name));
    } else {
      roster = f.agents || [];
    }
    if (!supervisor) return;
    renderFloor(); // who can be assigned changed
    const body = el.roster.tBodies[0];
    body.replaceChildren();
    for (const a of roster) {
      const tr = document.createElement('tr');
      const since = a.since ? Math.max(0, Math.floor((Date.parse(f.at) - Date.parse(a.since)) / 1000)) : NaN;
      for (const v of [a.name + (a.supervisor ? ' (supervisor)' : ''), a.presence, Number.isNaN(since) ? '' : duration(since), a.active + ' of ' + a.capacity]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      body.append(tr);
    }
  }

  function onQueues(f) {
    transferQueues = f.transferQueues || [];
    el.queueStats.replaceChildren();
    for (const q of f.queues || []) {
      const tr = document.createElement('tr');
      tr.dataset.queue = q.name;
      if (q.urgent > 0) tr.className = 'has-urgent';
      for (const v of [q.name, String(q.waiting), String(q.urgent || 0), q.waiting ? duration(q.oldestWaitSeconds) : '—']) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      el.queueStats.append(tr);
    }
    el.queueUpdated.textContent = 'Updated ' + clockTime(f.at || new Date().toISOString(), false);
  }

  function duration(secs) {
    const m = Math.floor(secs / 60);
    return m ? m + ' min ' + (secs % 60) + ' s' : secs + ' s';
  }

  function openTransfer() {
    const c = convs.get(current);
    if (!c || c.state !== 'assigned') return;
    el.transferQueue.replaceChildren();
    for (const q of transferQueues) {
      if (q === c.queue) continue;
      const opt = document.createElement('option');
      opt.value = opt.textContent = q;
      el.transferQueue.append(opt);
    }
    if (!el.transferQueue.options.length) { showError('There is no other queue to transfer to.'); return; }
    el.transferReason.value = '';
    // Colleagues who can take it now: available, with room, not the caller.
    el.transferAgent.replaceChildren(new Option('Anyone in the queue', ''));
    for (const a of roster) {
      if (a.presence === 'available' && a.active < a.capacity && a.name !== el.agentName.textContent) el.transferAgent.append(new Option(a.name, a.agentId));
    }
    el.transferDialog.showModal();
    el.transferQueue.focus();
  }

  function confirmTransfer(e) {
    e.preventDefault();
    const c = convs.get(current);
    el.transferDialog.close();
    if (!c) return;
    const reason = el.transferReason.value.trim();
    const frame = { action: 'transfer', conversationId: c.id, queue: el.transferQueue.value, reason };
    if (el.transferAgent.value) frame.agentId = el.transferAgent.value;
    if (request(frame, { conversationId: c.id })) c.state = 'transferring';
  }

  // ---- canned responses ----

  // Agent scripts (scripts.json, a team lead's file): the guided steps of
  // the conversation's queue, ticked as the agent goes and recorded with
  // the disposition when they close.
  let scripts = {};
  async function loadScripts() {
    try {
      const res = await fetch('scripts.json', { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      scripts = (await res.json()).scripts || {};
    } catch {
      scripts = {};
    }
  }

  function renderScript(c) {
    const sc = scripts[c.queue || ''];
    el.script.hidden = !sc;
    if (!sc) return;
    c.stepsDone = c.stepsDone || new Set();
    el.scriptTitle.textContent = 'Script: ' + sc.title;
    el.scriptSteps.replaceChildren();
    sc.steps.forEach((step, i) => {
      const id = 'step-' + i;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = id;
      box.checked = c.stepsDone.has(step);
      box.addEventListener('change', () => { if (box.checked) c.stepsDone.add(step); else c.stepsDone.delete(step); });
      const label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = step;
      const row = document.createElement('div');
      row.className = 'script-step';
      row.append(box, label);
      el.scriptSteps.append(row);
    });
  }

  async function loadCanned() {
    try {
      const res = await fetch('canned.json', { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      canned = (await res.json()).responses || [];
    } catch {
      canned = [];
      el.cannedButton.disabled = true;
    }
  }

  function openCanned() {
    const c = convs.get(current);
    if (!c || c.state !== 'assigned' || !canned.length) return;
    el.cannedFilter.value = '';
    filterCanned();
    el.cannedDialog.showModal();
    el.cannedFilter.focus();
  }

  function cannedText(r, c) {
    const lang = (c.language || (c.context && c.context.locale)) === 'es' ? 'es' : 'en';
    return (r[lang] || r.en).replaceAll('{patient}', c.patient.split(' ')[0]).replaceAll('{agent}', agentFirstName);
  }

  function filterCanned() {
    const c = convs.get(current);
    const q = el.cannedFilter.value.trim().toLowerCase();
    cannedShown = canned.filter((r) => !q || (r.title + ' ' + r.en + ' ' + r.es).toLowerCase().includes(q));
    cannedPick = 0;
    el.cannedList.replaceChildren();
    cannedShown.forEach((r, i) => {
      const li = document.createElement('li');
      li.id = 'canned-' + r.id;
      li.setAttribute('role', 'option');
      li.dataset.id = r.id;
      const t = document.createElement('span');
      t.className = 'canned-title';
      t.textContent = r.title;
      const x = document.createElement('span');
      x.className = 'canned-text';
      x.textContent = c ? cannedText(r, c) : r.en;
      li.append(t, x);
      li.addEventListener('click', () => { cannedPick = i; useCanned(); });
      el.cannedList.append(li);
    });
    markCanned();
  }

  function markCanned() {
    [...el.cannedList.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === cannedPick)));
    const li = el.cannedList.children[cannedPick];
    // The list scrolls, so it takes the focus too (keyboard users reach and
    // move through it as from the search field).
    if (li) {
      el.cannedFilter.setAttribute('aria-activedescendant', li.id);
      el.cannedList.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  function useCanned() {
    const c = convs.get(current);
    const r = cannedShown[cannedPick];
    el.cannedDialog.close();
    if (!c || !r) return;
    const text = cannedText(r, c);
    el.input.value = el.input.value.trim() ? el.input.value.trimEnd() + ' ' + text : text;
    el.input.focus();
    el.input.setSelectionRange(el.input.value.length, el.input.value.length);
  }

  function cannedKeys(e) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = cannedShown.length;
      if (n) cannedPick = (cannedPick + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      markCanned();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      useCanned();
    }
  }

  function renderComposer(c) {
    const open = c.state === 'assigned';
    el.input.disabled = el.send.disabled = el.cannedButton.disabled = el.transferButton.disabled = el.handBackButton.disabled = !open;
    if (!canned.length) el.cannedButton.disabled = true;
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
    // An agent's message is "You" only when it is this agent's: after a
    // transfer the log holds the previous agent's messages under their name.
    const own = role === 'agent' && (!m.from.name || m.from.name === el.agentName.textContent);
    li.className = 'msg ' + (own ? 'msg-own' : 'msg-' + role);
    li.dataset.messageId = m.messageId;
    li.dataset.role = role;
    const who = document.createElement('span');
    who.className = 'msg-from';
    who.textContent = own ? 'You' : ((m.from && m.from.name) || role);
    if (m.at && !Number.isNaN(Date.parse(m.at))) {
      const at = document.createElement('time');
      at.className = 'msg-time';
      at.dateTime = m.at;
      at.textContent = clockTime(m.at, false);
      who.append(' · ', at);
    }
    const text = document.createElement('p');
    text.className = 'msg-text';
    text.textContent = m.text;
    li.append(who, text);
    return li;
  }

  // showNext shows, after the conversation shown left the console, another
  // one the agent still holds (or none).
  function showNext() {
    const next = convs.keys().next().value;
    if (next) { show(next); return; }
    current = '';
    el.workspace.hidden = true;
  }

  function onStatus(f) {
    // An offer whose patient left meanwhile.
    if (offers.has(f.conversationId) && f.state === 'closed') { removeOffer(f.conversationId); return; }
    const c = convs.get(f.conversationId);
    if (c && (f.state === 'waiting' || f.state === 'bot') && (f.requestId || c.state === 'transferring' || f.state === 'waiting')) {
      // Our transfer or hand-back: the conversation is back in a queue, or
      // with the bot, and no longer ours. Waiting without our request: a
      // supervisor reassigned it.
      if (f.state === 'bot') showNotice('The bot has the conversation with ' + c.patient + ' again.');
      else if (!f.requestId && c.state !== 'transferring') showNotice('A supervisor reassigned the conversation with ' + c.patient + '.');
      convs.delete(c.id);
      if (current === c.id) showNext();
      renderConversations();
      request({ action: 'queues' });
      return;
    }
    if (!c || f.state !== 'closed') return;
    // Our own close (from this or another console of ours) carries its
    // requestId; the patient ending the chat does not: then we wrap up.
    c.state = f.requestId || c.state === 'closing' ? 'wrapped' : 'closed';
    if (c.state === 'wrapped') {
      showNotice('Closed the conversation with ' + c.patient + (c.disposition ? ' (' + c.disposition + ')' : '') + '.');
      convs.delete(c.id);
      if (current === c.id) showNext();
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
    // echo false: the ack renders it here, the agent's other consoles get the message.
    if (request({ action: 'send', conversationId: c.id, clientMessageId, text, echo: false }, { conversationId: c.id, text })) el.input.value = '';
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
    // The focus goes to the message log, not back to Close…: the rest of an
    // Enter that submitted the dialog would press Close… and open it again.
    el.messagesLog.focus();
    if (!c) return;
    c.disposition = el.disposition.options[el.disposition.selectedIndex].text;
    const closing = canned.find((r) => r.id === 'closing');
    if (el.closeMessage.checked && closing) {
      // The closing message first, in the patient's language; the close
      // follows its ack (the two could otherwise be handled in either
      // order, and a message after the close is refused).
      const text = cannedText(closing, c);
      const clientMessageId = 'a' + Date.now().toString(36) + '.' + (++msgSeq);
      if (request({ action: 'send', conversationId: c.id, clientMessageId, text, echo: false }, { conversationId: c.id, text, closeAfter: el.disposition.value })) c.state = 'closing';
      return;
    }
    closeNow(c, el.disposition.value);
  }

  function closeNow(c, disposition) {
    const frame = { action: 'close', conversationId: c.id, disposition };
    if (c.stepsDone && c.stepsDone.size) frame.steps = [...c.stepsDone];
    if (request(frame, { conversationId: c.id })) c.state = 'closing';
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
  function showNotice(m) { el.notice.textContent = m; }
  function clearError() { el.error.textContent = ''; }

  // ---- wiring ----

  el.signInForm.addEventListener('submit', onSignIn);
  el.newPasswordForm.addEventListener('submit', onNewPassword);
  el.mfaSetupForm.addEventListener('submit', onMfaSetup);
  el.mfaForm.addEventListener('submit', onMfa);
  el.signOut.addEventListener('click', () => signOut(''));
  el.presence.addEventListener('change', () => { request({ action: 'presence', status: el.presence.value }); presenceHint(); });
  el.composer.addEventListener('submit', sendMessage);
  el.input.addEventListener('input', onInput);
  el.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); el.composer.requestSubmit(); }
  });
  el.closeButton.addEventListener('click', openClose);
  el.closeCancel.addEventListener('click', () => el.closeDialog.close());
  el.closeForm.addEventListener('submit', confirmClose);
  // A select does not submit its form on Enter: the outcome list does.
  el.disposition.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); el.closeForm.requestSubmit(); }
  });
  el.noteForm.addEventListener('submit', saveNote);
  el.bookOpen.addEventListener('click', () => openBook(''));
  el.bookSearch.addEventListener('click', searchSlots);
  el.bookCancel.addEventListener('click', () => el.bookDialog.close());
  el.bookForm.addEventListener('submit', confirmBook);
  el.bookChange.addEventListener('change', onChangeVisit);
  el.transferButton.addEventListener('click', openTransfer);
  el.handBackButton.addEventListener('click', () => {
    const c = convs.get(current);
    if (c && c.state === 'assigned' && request({ action: 'handback', conversationId: c.id }, { conversationId: c.id })) c.state = 'transferring';
  });
  el.offerNotifications.addEventListener('click', enableNotifications);
  el.transferCancel.addEventListener('click', () => el.transferDialog.close());
  el.transferForm.addEventListener('submit', confirmTransfer);
  el.monitorForm.addEventListener('submit', startMonitor);
  el.kpiForm.addEventListener('submit', (e) => { e.preventDefault(); askKPIs(); });
  el.kpiCsv.addEventListener('click', downloadKPIs);
  el.monitorCancel.addEventListener('click', () => el.monitorDialog.close());
  el.whisperForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.whisperText.value.trim();
    if (!monitoring || !text) return;
    if (request({ action: 'whisper', conversationId: monitoring.id, text })) el.whisperText.value = '';
  });
  el.barge.addEventListener('click', () => { if (monitoring) request({ action: 'barge', conversationId: monitoring.id }); });
  el.unmonitor.addEventListener('click', () => { if (monitoring) request({ action: 'unmonitor', conversationId: monitoring.id }); });
  el.monitorSendForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = el.monitorText.value.trim();
    if (!monitoring || !monitoring.joined || !text) return;
    const id = 'sv-' + Date.now() + '-' + Math.random().toString(36).slice(2, 8);
    if (request({ action: 'send', conversationId: monitoring.id, clientMessageId: id, text })) el.monitorText.value = '';
  });
  el.cannedButton.addEventListener('click', openCanned);
  el.cannedCancel.addEventListener('click', () => el.cannedDialog.close());
  el.cannedFilter.addEventListener('input', filterCanned);
  el.cannedFilter.addEventListener('keydown', cannedKeys);
  el.cannedList.addEventListener('keydown', cannedKeys);
  el.cannedForm = $('canned-form');
  el.cannedForm.addEventListener('submit', (e) => { e.preventDefault(); useCanned(); });
  document.addEventListener('keydown', (e) => {
    if (e.altKey && (e.key === 'r' || e.key === 'R') && !el.workspace.hidden) { e.preventDefault(); openCanned(); }
  });

  window.PSCAgent = { version: VERSION };
})();
