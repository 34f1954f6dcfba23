// Patient Service Center: the hosted survey page an emailed survey links
// to (survey.html?t=<signed link>). It works without the chat: it opens
// the patient WebSocket API, shows the survey's questions, and sends the
// answer (or the wish not to be asked again) once. Plain JavaScript, no
// build step; nothing personal is logged.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = { error: $('error'), status: $('status'), form: $('form'), questions: $('questions'), submit: $('submit'), optout: $('optout') };

  // The page's words in the survey's language (the email's link says
  // which: lang=es); English otherwise.
  const WORDS = {
    en: {
      title: 'How did we do? — Patient Service Center', skip: 'Skip to the survey', subtitle: 'How did we do?', heading: 'Your feedback',
      loading: 'Loading the survey…', submit: 'Send feedback', optout: "Don't ask me again", optional: 'This survey is optional.',
      emergency: 'In an emergency, call 911.', optionalMark: ' (optional)', answeredBefore: 'You have already answered this survey. Thank you!',
      closedSurvey: 'This survey has closed. Thank you all the same.', intro: 'Please tell us how we did.', chooseScore: 'Please choose a score for the first question.',
      thanks: 'Thank you for your answer.', optedOut: 'We will not send you surveys any more.', notConnected: 'Not connected. Please reload the page.',
      unauthorized: 'This link is not valid any more (it may have expired). Thank you all the same.', notFound: 'We could not find this survey.',
      conflict: 'This survey can no longer be answered. Thank you all the same.', badRequest: 'Please check your answers.', rateLimited: 'Too many tries; please wait a moment.',
      failed: 'Something went wrong on our side. Please try again later.', needsLink: 'This page needs the link from your email.',
      unreachable: 'The survey cannot be reached right now. Please try again later.', closed: 'The connection closed. Please reload the page.',
    },
    es: {
      title: '¿Cómo lo hicimos? — Centro de Atención al Paciente', skip: 'Ir a la encuesta', subtitle: '¿Cómo lo hicimos?', heading: 'Su opinión',
      loading: 'Cargando la encuesta…', submit: 'Enviar opinión', optout: 'No me pregunten más', optional: 'Esta encuesta es opcional.',
      emergency: 'En una emergencia, llame al 911.', optionalMark: ' (opcional)', answeredBefore: 'Ya respondió esta encuesta. ¡Gracias!',
      closedSurvey: 'Esta encuesta ya cerró. Gracias de todos modos.', intro: 'Cuéntenos cómo lo hicimos.', chooseScore: 'Por favor elija una puntuación para la primera pregunta.',
      thanks: 'Gracias por su respuesta.', optedOut: 'No le enviaremos más encuestas.', notConnected: 'Sin conexión. Por favor recargue la página.',
      unauthorized: 'Este enlace ya no es válido (puede haber vencido). Gracias de todos modos.', notFound: 'No encontramos esta encuesta.',
      conflict: 'Esta encuesta ya no se puede responder. Gracias de todos modos.', badRequest: 'Por favor revise sus respuestas.', rateLimited: 'Demasiados intentos; espere un momento, por favor.',
      failed: 'Algo falló de nuestro lado. Por favor inténtelo más tarde.', needsLink: 'Esta página necesita el enlace de su correo.',
      unreachable: 'No se puede abrir la encuesta ahora. Por favor inténtelo más tarde.', closed: 'La conexión se cerró. Por favor recargue la página.',
    },
  };
  const page = window.PSCLinkPage.open('survey', WORDS);
  const { token, W } = page;



  let sock = null;
  let seq = 0;
  let questions = [];
  let texts = {};

  function send(frame) {
    if (!sock || sock.readyState !== WebSocket.OPEN) { el.error.textContent = W.notConnected; return; }
    el.error.textContent = '';
    sock.send(JSON.stringify({ action: 'survey', token, requestId: 's' + (++seq), ...frame }));
  }

  function render(f) {
    questions = f.questions || [];
    texts = f.texts || {};
    if (f.answered || f.closed) {
      el.status.textContent = f.answered ? W.answeredBefore : W.closedSurvey;
      el.form.hidden = true;
      return;
    }
    el.questions.replaceChildren();
    for (const q of questions) {
      if (q.type === 'scale') {
        const fs = document.createElement('fieldset');
        fs.dataset.question = q.id;
        const legend = document.createElement('legend');
        legend.textContent = q.text + (q.required ? '' : W.optionalMark);
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
    el.status.textContent = texts.intro || W.intro;
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
      el.error.textContent = W.chooseScore;
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
        el.status.textContent = f.text || W.thanks;
        break;
      case 'surveyOptedOut':
        el.form.hidden = true;
        el.status.textContent = W.optedOut;
        break;
      case 'error': {
        el.submit.disabled = false;
        // The page's own words for each code, never the server's text.
        const messages = { unauthorized: W.unauthorized, not_found: W.notFound, conflict: W.conflict, bad_request: W.badRequest, rate_limited: W.rateLimited };
        el.error.textContent = messages[f.code] || W.failed;
        if (!questions.length) el.status.textContent = '';
        if (f.code === 'conflict') el.form.hidden = true;
        break;
      }
    }
  }

  async function start() {
    page.translate();
    sock = await page.connect({
      onOpen: () => send({ decision: 'view' }),
      onFrame,
      onClose: () => { if (!questions.length && !el.error.textContent) el.error.textContent = W.closed; },
      fail: (why) => { el.status.textContent = ''; el.error.textContent = why; },
    });
  }

  el.form.addEventListener('submit', onSubmit);
  el.optout.addEventListener('click', () => send({ decision: 'optout' }));
  window.PSCSurvey = { version: '1.0.0' };
  start();
})();
