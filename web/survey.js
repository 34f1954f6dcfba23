// Patient Service Center: the hosted survey page an emailed survey links
// to (survey.html?t=<signed link>). It works without the chat: it opens
// the patient WebSocket API, shows the survey's questions, and sends the
// answer (or the wish not to be asked again) once. Plain JavaScript, no
// build step; nothing personal is logged.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = { error: $('error'), status: $('status'), form: $('form'), questions: $('questions'), submit: $('submit'), optout: $('optout') };
  const token = linkToken(new URLSearchParams(location.search).get('t'));

  // The link's token leaves the address bar and the browser's history as
  // soon as it is read (anyone at the device could reopen it there); this
  // tab keeps it for a reload.
  function linkToken(fromURL) {
    let t = fromURL || '';
    try {
      if (t) sessionStorage.setItem('psc-survey-link', t);
      else t = sessionStorage.getItem('psc-survey-link') || '';
    } catch { /* storage blocked: the page works until it is left */ }
    if (fromURL) history.replaceState(null, '', location.pathname);
    return t;
  }
  let sock = null;
  let seq = 0;
  let questions = [];
  let texts = {};

  function send(frame) {
    if (!sock || sock.readyState !== WebSocket.OPEN) { el.error.textContent = 'Not connected. Please reload the page.'; return; }
    el.error.textContent = '';
    sock.send(JSON.stringify({ action: 'survey', token, requestId: 's' + (++seq), ...frame }));
  }

  function render(f) {
    questions = f.questions || [];
    texts = f.texts || {};
    if (f.answered || f.closed) {
      el.status.textContent = f.answered ? 'You have already answered this survey. Thank you!' : 'This survey has closed. Thank you all the same.';
      el.form.hidden = true;
      return;
    }
    el.questions.replaceChildren();
    for (const q of questions) {
      if (q.type === 'scale') {
        const fs = document.createElement('fieldset');
        fs.dataset.question = q.id;
        const legend = document.createElement('legend');
        legend.textContent = q.text + (q.required ? '' : ' (optional)');
        const scale = document.createElement('div');
        scale.className = 'scale';
        scale.setAttribute('role', 'radiogroup');
        for (let v = q.min; v <= q.max; v++) {
          const label = document.createElement('label');
          const input = document.createElement('input');
          input.type = 'radio';
          input.name = q.id;
          input.value = String(v);
          input.id = q.id + '-' + v;
          if (q.required) input.required = true;
          const span = document.createElement('span');
          span.textContent = String(v);
          label.append(input, span);
          scale.append(label);
        }
        fs.append(legend, scale);
        el.questions.append(fs);
      } else {
        const wrap = document.createElement('div');
        wrap.className = 'field';
        const label = document.createElement('label');
        label.htmlFor = 'q-' + q.id;
        label.textContent = q.text;
        const area = document.createElement('textarea');
        area.id = 'q-' + q.id;
        area.name = q.id;
        area.rows = 3;
        area.maxLength = 1000;
        wrap.append(label, area);
        el.questions.append(wrap);
      }
    }
    el.status.textContent = texts.intro || 'Please tell us how we did.';
    el.form.hidden = false;
    const first = el.questions.querySelector('input');
    if (first) first.focus();
  }

  function value(id) {
    const checked = el.form.querySelector(`input[name="${id}"]:checked`);
    return checked ? Number(checked.value) : null;
  }

  function onSubmit(e) {
    e.preventDefault();
    const csat = value('csat');
    if (csat === null) {
      el.error.textContent = 'Please choose a score for the first question.';
      el.form.querySelector('input[name="csat"]').focus();
      return;
    }
    const frame = { decision: 'answer', score: csat };
    const nps = value('nps');
    if (nps !== null) frame.nps = nps;
    const comment = el.form.querySelector('textarea');
    if (comment && comment.value.trim()) frame.comment = comment.value.trim();
    el.submit.disabled = true;
    send(frame);
  }

  function onFrame(f) {
    switch (f.type) {
      case 'surveyForm': render(f); break;
      case 'surveyAnswered':
        el.form.hidden = true;
        el.status.textContent = f.text || 'Thank you for your answer.';
        break;
      case 'surveyOptedOut':
        el.form.hidden = true;
        el.status.textContent = 'We will not send you surveys any more.';
        break;
      case 'error': {
        el.submit.disabled = false;
        const messages = {
          unauthorized: 'This link is not valid or has expired.',
          not_found: 'We could not find this survey.',
          conflict: f.message || 'This survey can no longer be answered.',
          bad_request: f.message || 'Please check your answers.',
          rate_limited: 'Too many tries; please wait a moment.',
        };
        el.error.textContent = messages[f.code] || 'Something went wrong. Please try again.';
        if (!questions.length) el.status.textContent = '';
        if (f.code === 'conflict') el.form.hidden = true;
        break;
      }
    }
  }

  async function start() {
    if (!token) { el.status.textContent = ''; el.error.textContent = 'This page needs the link from your email.'; return; }
    let config;
    try {
      config = await (await fetch('config.json', { cache: 'no-store' })).json();
    } catch {
      el.error.textContent = 'The survey cannot be reached right now. Please try again later.';
      return;
    }
    sock = new WebSocket(config.patientWebSocketUrl);
    sock.onopen = () => send({ decision: 'view' });
    sock.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch { /* not a frame */ } };
    sock.onclose = () => { if (!questions.length && !el.error.textContent) el.error.textContent = 'The connection closed. Please reload the page.'; };
  }

  el.form.addEventListener('submit', onSubmit);
  el.optout.addEventListener('click', () => send({ decision: 'optout' }));
  window.PSCSurvey = { version: '1.0.0' };
  start();
})();
