// Patient Service Center: the appointment page a reminder's link opens
// (appointment.html?t=<signed link>&do=confirm|cancel). It shows the
// appointment and lets the patient confirm or cancel it over the patient
// WebSocket API (the appointment route); nothing happens without a click,
// so a mail scanner following the link changes nothing. Plain
// JavaScript, no build step; no token or personal detail is logged.
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const el = {
    error: $('error'), status: $('status'), details: $('details'), when: $('when'), provider: $('provider'), visit: $('visit'),
    place: $('place'), reference: $('reference'), actions: $('actions'), confirm: $('confirm'), cancel: $('cancel'),
    cancelCheck: $('cancel-check'), cancelYes: $('cancel-yes'), cancelNo: $('cancel-no'),
  };
  const params = new URLSearchParams(location.search);
  const token = linkToken(params.get('t'));
  const wanted = params.get('do') || '';

  // The link's token leaves the address bar and the browser's history as
  // soon as it is read (anyone at the device could reopen it there); this
  // tab keeps it for a reload.
  function linkToken(fromURL) {
    let t = fromURL || '';
    try {
      if (t) sessionStorage.setItem('psc-appointment-link', t);
      else t = sessionStorage.getItem('psc-appointment-link') || '';
    } catch { /* storage blocked: the page works until it is left */ }
    if (fromURL) history.replaceState(null, '', location.pathname);
    return t;
  }
  let sock = null;
  let seq = 0;
  let appointment = null;

  function showError(message) { el.error.textContent = message; }

  function send(decision) {
    if (!sock || sock.readyState !== WebSocket.OPEN) { showError('Not connected. Please reload the page.'); return; }
    el.error.textContent = '';
    sock.send(JSON.stringify({ action: 'appointment', token, decision, requestId: 'a' + (++seq) }));
  }

  function render(f) {
    appointment = f.appointment;
    const slot = appointment.slot;
    el.when.textContent = f.when;
    el.provider.textContent = slot.provider.name;
    el.visit.textContent = slot.visitType.name;
    if (slot.mode === 'telehealth' && appointment.joinUrl) {
      const a = document.createElement('a');
      a.href = appointment.joinUrl;
      a.textContent = 'Join the video visit';
      el.place.replaceChildren(a);
    } else {
      el.place.textContent = slot.location.name + (slot.location.address ? ', ' + slot.location.address : '');
    }
    el.reference.textContent = appointment.appointmentId.slice(2, 10).toUpperCase();
    el.details.hidden = false;
    el.cancelCheck.hidden = true;
    const active = appointment.state === 'booked' || appointment.state === 'rescheduled';
    el.actions.hidden = !active;
    el.confirm.disabled = f.confirmed;
    el.details.dataset.state = appointment.state;
    if (!active) {
      el.status.textContent = appointment.state === 'cancelled' ? 'This appointment is cancelled.' : 'This appointment is ' + appointment.state + '.';
    } else if (f.confirmed) {
      el.status.textContent = 'You confirmed this appointment. Thank you — see you then.';
    } else {
      el.status.textContent = 'Please confirm you are coming, or cancel if you cannot.';
    }
  }

  function onFrame(f) {
    if (f.type === 'appointment') {
      const first = !appointment;
      render(f);
      if (first && !el.actions.hidden) (wanted === 'cancel' ? el.cancel : el.confirm).focus();
      return;
    }
    if (f.type === 'error') {
      const messages = {
        unauthorized: 'This link is not valid or has expired. Please chat with us or call us.',
        not_found: 'We could not find this appointment. Please chat with us or call us.',
        conflict: f.message || 'This appointment can no longer be changed here.',
        rate_limited: 'Too many tries; please wait a moment.',
      };
      showError(messages[f.code] || 'Something went wrong. Please try again.');
      if (!appointment) el.status.textContent = '';
    }
  }

  async function start() {
    if (!token) { el.status.textContent = ''; showError('This page needs the link from your reminder.'); return; }
    let config;
    try {
      const res = await fetch('config.json', { cache: 'no-store' });
      config = await res.json();
    } catch {
      showError('The appointment service cannot be reached. Please try again later.');
      return;
    }
    sock = new WebSocket(config.patientWebSocketUrl);
    sock.onopen = () => send('view');
    sock.onmessage = (e) => { try { onFrame(JSON.parse(e.data)); } catch { /* not a frame */ } };
    sock.onclose = () => { if (!appointment) showError('The connection closed. Please reload the page.'); };
  }

  el.confirm.addEventListener('click', () => send('confirm'));
  el.cancel.addEventListener('click', () => { el.actions.hidden = true; el.cancelCheck.hidden = false; el.cancelNo.focus(); });
  el.cancelNo.addEventListener('click', () => { el.cancelCheck.hidden = true; el.actions.hidden = false; el.cancel.focus(); });
  el.cancelYes.addEventListener('click', () => send('cancel'));

  window.PSCAppointment = { version: '1.0.0' };
  start();
})();
