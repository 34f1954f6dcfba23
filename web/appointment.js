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
    cancelCheck: $('cancel-check'), cancelYes: $('cancel-yes'), cancelNo: $('cancel-no'), cancelQuestion: $('cancel-question'),
  };
  const wanted = new URLSearchParams(location.search).get('do') || '';

  // The page's words in the appointment's language (the reminder's link
  // says which: lang=es); English otherwise.
  const WORDS = {
    en: {
      title: 'Your appointment — Patient Service Center', skip: 'Skip to your appointment', subtitle: 'Your appointment', heading: 'Your appointment',
      loading: 'Loading your appointment…', when: 'When', with: 'With', visit: 'Visit', where: 'Where', reference: 'Confirmation',
      confirm: "I'll be there", cancel: 'Cancel the appointment', cancelQuestion: 'Cancel this appointment? The time will be offered to another patient.',
      cancelYes: 'Yes, cancel it', cancelNo: 'No, keep it', emergency: 'In an emergency, call 911.', changeBefore: 'To change the time,',
      chatWithUs: 'chat with us', changeAfter: 'or call us.', join: 'Join the video visit',
      cancelled: 'This appointment is cancelled.', completed: 'This visit is over.', noShow: 'This visit was missed.', other: 'This appointment can no longer be changed here.',
      confirmed: 'You confirmed this appointment. Thank you — see you then.', pleaseConfirm: 'Please confirm you are coming, or cancel if you cannot.',
      notConnected: 'Not connected. Please reload the page.', needsLink: 'This page needs the link from your reminder.',
      unreachable: 'The appointment service cannot be reached. Please try again later.', closed: 'The connection closed. Please reload the page.',
      unauthorized: 'This link is not valid any more: it has expired, the appointment was moved (use the newest reminder), or it has already started. Please chat with us or call us.',
      notFound: 'We could not find this appointment. Please chat with us or call us.',
      conflict: 'This appointment can no longer be changed here (it is over, cancelled or was changed meanwhile). Please chat with us or call us.',
      rateLimited: 'Too many tries; please wait a moment.', failed: 'Something went wrong on our side. Please chat with us or call us.',
      take: 'Take this time', letGo: 'Let it go', letGoQuestion: 'Let this time go? It will be offered to the next patient on the waitlist, and you stay on the waitlist.',
      letGoYes: 'Yes, let it go', letGoNo: 'No, keep it for now', heldUntil: (t) => `A time opened from the waitlist: it is held for you until ${t}.`,
      taken: 'This time is yours. Thank you — see you then.', letGone: 'You let this time go; it went to the next patient. You are still on the waitlist.',
    },
    es: {
      title: 'Su cita — Centro de Atención al Paciente', skip: 'Ir a su cita', subtitle: 'Su cita', heading: 'Su cita',
      loading: 'Cargando su cita…', when: 'Cuándo', with: 'Con', visit: 'Consulta', where: 'Dónde', reference: 'Confirmación',
      confirm: 'Asistiré', cancel: 'Cancelar la cita', cancelQuestion: '¿Cancelar esta cita? El horario se ofrecerá a otro paciente.',
      cancelYes: 'Sí, cancelarla', cancelNo: 'No, mantenerla', emergency: 'En una emergencia, llame al 911.', changeBefore: 'Para cambiar el horario,',
      chatWithUs: 'escríbanos por el chat', changeAfter: 'o llámenos.', join: 'Unirse a la consulta por video',
      cancelled: 'Esta cita está cancelada.', completed: 'Esta consulta ya terminó.', noShow: 'No asistió a esta consulta.', other: 'Esta cita ya no se puede cambiar aquí.',
      confirmed: 'Confirmó esta cita. Gracias, le esperamos.', pleaseConfirm: 'Por favor confirme que asistirá, o cancele si no puede.',
      notConnected: 'Sin conexión. Por favor recargue la página.', needsLink: 'Esta página necesita el enlace de su recordatorio.',
      unreachable: 'No se puede conectar con el servicio de citas. Por favor inténtelo más tarde.', closed: 'La conexión se cerró. Por favor recargue la página.',
      unauthorized: 'Este enlace ya no es válido: venció, la cita se cambió (use el recordatorio más reciente) o ya empezó. Por favor escríbanos por el chat o llámenos.',
      notFound: 'No encontramos esta cita. Por favor escríbanos por el chat o llámenos.',
      conflict: 'Esta cita ya no se puede cambiar aquí (terminó, se canceló o cambió mientras tanto). Por favor escríbanos por el chat o llámenos.',
      rateLimited: 'Demasiados intentos; espere un momento, por favor.', failed: 'Algo falló de nuestro lado. Por favor escríbanos por el chat o llámenos.',
      take: 'Tomar este horario', letGo: 'Dejarlo', letGoQuestion: '¿Dejar este horario? Se ofrecerá al siguiente paciente de la lista de espera, y usted sigue en la lista.',
      letGoYes: 'Sí, dejarlo', letGoNo: 'No, guardarlo por ahora', heldUntil: (t) => `Se liberó un horario de la lista de espera: se lo reservamos hasta las ${t}.`,
      taken: 'Este horario es suyo. Gracias, le esperamos.', letGone: 'Dejó este horario; pasó al siguiente paciente. Sigue en la lista de espera.',
    },
  };
  const page = window.PSCLinkPage.open('appointment', WORDS);
  const { token, W } = page;



  let sock = null;
  let seq = 0;
  let appointment = null;
  let wasHeld = false;

  function showError(message) { el.error.textContent = message; }

  function send(decision) {
    if (!sock || sock.readyState !== WebSocket.OPEN) { showError(W.notConnected); return; }
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
      a.textContent = W.join;
      el.place.replaceChildren(a);
    } else {
      el.place.textContent = slot.location.name + (slot.location.address ? ', ' + slot.location.address : '');
    }
    el.reference.textContent = appointment.appointmentId.slice(2, 10).toUpperCase();
    el.details.hidden = false;
    el.cancelCheck.hidden = true;
    // A time held from the waitlist: take it or let it go.
    const held = appointment.state === 'held';
    wasHeld = wasHeld || held;
    el.confirm.textContent = held ? W.take : W.confirm;
    el.cancel.textContent = held ? W.letGo : W.cancel;
    el.cancelQuestion.textContent = held ? W.letGoQuestion : W.cancelQuestion;
    el.cancelYes.textContent = held ? W.letGoYes : W.cancelYes;
    el.cancelNo.textContent = held ? W.letGoNo : W.cancelNo;
    const active = held || appointment.state === 'booked' || appointment.state === 'rescheduled';
    el.actions.hidden = !active;
    el.confirm.disabled = f.confirmed;
    el.details.dataset.state = appointment.state;
    if (held) {
      el.status.textContent = W.heldUntil(f.holdUntil);
    } else if (wasHeld && appointment.state === 'cancelled') {
      el.status.textContent = W.letGone;
    } else if (wasHeld && f.confirmed) {
      el.status.textContent = W.taken;
    } else if (!active) {
      el.status.textContent = { cancelled: W.cancelled, completed: W.completed, 'no-show': W.noShow }[appointment.state] || W.other;
    } else if (f.confirmed) {
      el.status.textContent = W.confirmed;
    } else {
      el.status.textContent = W.pleaseConfirm;
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
      // The page's own words for each code, never the server's text.
      const messages = { unauthorized: W.unauthorized, not_found: W.notFound, conflict: W.conflict, rate_limited: W.rateLimited };
      showError(messages[f.code] || W.failed);
      if (!appointment) el.status.textContent = '';
    }
  }

  async function start() {
    page.translate();
    sock = await page.connect({
      onOpen: () => send('view'),
      onFrame,
      onClose: () => { if (!appointment) showError(W.closed); },
      fail: (why) => { el.status.textContent = ''; showError(why); },
    });
  }

  el.confirm.addEventListener('click', () => send('confirm'));
  el.cancel.addEventListener('click', () => { el.actions.hidden = true; el.cancelCheck.hidden = false; el.cancelNo.focus(); });
  el.cancelNo.addEventListener('click', () => { el.cancelCheck.hidden = true; el.actions.hidden = false; el.cancel.focus(); });
  el.cancelYes.addEventListener('click', () => send('cancel'));

  window.PSCAppointment = { version: '1.0.0' };
  start();
})();
