// taxieta call-centre page: zone pickers, the trip form and its estimate.
// Plain JavaScript with no dependencies, served from the binary at /ui/app.js.
// It talks to the same server only: GET zones, POST predict.
(function () {
  'use strict';

  var NYC = 'America/New_York';
  var $ = function (id) { return document.getElementById(id); };

  var form = $('trip-form');
  var result = $('result');
  var formError = $('form-error');
  var passengers = $('passengers');
  var dateInput = $('pickup-date');
  var timeInput = $('pickup-time');

  var zones = [];            // the zones of the served model, with search keys
  var zonesById = new Map();
  var requestSeq = 0;        // answers to older requests are dropped
  var autoWhen = null;       // the date and time the page filled in itself

  // norm folds case and accents so that "astoria" finds "Astoria".
  function norm(s) {
    return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  }

  function zoneLabel(z) { return z.zone + ' (' + z.borough + ')'; }

  // search ranks the zones that match every word of q: an id first, then
  // names that are q, start with it, have a word that starts with it, contain
  // it; then zones that match only by borough or service zone.
  function search(q) {
    var qn = norm(q).trim().replace(/\s+/g, ' ');
    if (!qn) { return zones.slice(); }
    var words = qn.split(' ');
    var hits = [];
    zones.forEach(function (z) {
      var ok = words.every(function (w) {
        return /^\d+$/.test(w) ? z.id === Number(w) : z.key.indexOf(w) >= 0;
      });
      if (!ok) { return; }
      var name = z.nameKey, score = 6;
      if (String(z.id) === qn) { score = 0; }
      else if (name === qn) { score = 1; }
      else if (name.indexOf(qn) === 0) { score = 2; }
      else if ((' ' + name).indexOf(' ' + qn) >= 0 || name.indexOf('/' + qn) >= 0) { score = 3; }
      else if (name.indexOf(qn) >= 0) { score = 4; }
      else if (name.indexOf(words[0]) >= 0) { score = 5; }
      hits.push({ z: z, score: score });
    });
    hits.sort(function (a, b) { return a.score - b.score || a.z.zone.localeCompare(b.z.zone) || a.z.id - b.z.id; });
    return hits.map(function (h) { return h.z; });
  }

  // highlight appends name to el with the parts that match a word in <mark>.
  function highlight(el, name, q) {
    var key = norm(name);
    var words = norm(q).trim().split(/\s+/).filter(function (w) { return w && !/^\d+$/.test(w); });
    var marks = new Array(name.length).fill(false);
    if (key.length === name.length) {
      words.forEach(function (w) {
        var i = key.indexOf(w);
        if (i >= 0) { for (var j = i; j < i + w.length; j++) { marks[j] = true; } }
      });
    }
    var i = 0;
    while (i < name.length) {
      var j = i;
      while (j < name.length && marks[j] === marks[i]) { j++; }
      var text = document.createTextNode(name.slice(i, j));
      if (marks[i]) { var m = document.createElement('mark'); m.appendChild(text); el.appendChild(m); } else { el.appendChild(text); }
      i = j;
    }
  }

  // Combo is an accessible combobox (ARIA 1.2 pattern, list autocomplete
  // with automatic selection): type to filter, Up and Down to move, Enter or
  // a click to choose, Escape to close or clear.
  function Combo(name, onChoose) {
    this.name = name;
    this.input = $(name);
    this.list = $(name + '-list');
    this.hint = $(name + '-hint');
    this.defaultHint = this.hint.textContent;
    this.selected = null;
    this.matches = [];
    this.active = -1;
    this.onChoose = onChoose;
    var self = this;
    this.input.addEventListener('input', function () { self.onInput(); });
    this.input.addEventListener('keydown', function (e) { self.onKey(e); });
    this.input.addEventListener('click', function () { if (self.list.hidden && zones.length) { self.filter(self.selected ? '' : self.input.value); } });
    this.input.addEventListener('blur', function () { self.close(); self.resolve(); });
    this.list.addEventListener('mousedown', function (e) { e.preventDefault(); });
    this.list.addEventListener('click', function (e) {
      var li = e.target.closest('[role=option]');
      if (li) { self.choose(zonesById.get(Number(li.dataset.id))); }
    });
  }

  Combo.prototype.onInput = function () {
    this.selected = null;
    this.showHint(this.defaultHint);
    clearError(this.name);
    if (!this.input.value.trim()) { this.close(); return; }
    this.filter(this.input.value);
  };

  // filter shows the zones that match q, the first one active.
  Combo.prototype.filter = function (q) {
    this.matches = search(q);
    var list = this.list;
    list.replaceChildren();
    if (!this.matches.length) {
      this.close();
      this.showHint('No zone matches “' + q.trim() + '”. Try part of a name, a borough or a zone id.');
      return;
    }
    var frag = document.createDocumentFragment();
    var self = this;
    this.matches.forEach(function (z) {
      var li = document.createElement('li');
      li.id = self.name + '-opt-' + z.id;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', 'false');
      li.dataset.id = z.id;
      var n = document.createElement('span');
      n.className = 'opt-name';
      highlight(n, z.zone, q);
      var meta = document.createElement('span');
      meta.className = 'opt-meta';
      meta.textContent = z.borough + ' · ' + z.id;
      li.append(n, meta);
      frag.appendChild(li);
    });
    list.appendChild(frag);
    list.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    var at = this.selected ? this.matches.indexOf(this.selected) : 0;
    this.setActive(at < 0 ? 0 : at);
  };

  Combo.prototype.setActive = function (i) {
    var old = this.list.children[this.active];
    if (old) { old.setAttribute('aria-selected', 'false'); }
    this.active = i;
    var li = this.list.children[i];
    if (!li) { this.input.removeAttribute('aria-activedescendant'); return; }
    li.setAttribute('aria-selected', 'true');
    this.input.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({ block: 'nearest' });
  };

  Combo.prototype.isOpen = function () { return !this.list.hidden; };

  Combo.prototype.close = function () {
    this.list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
    this.active = -1;
  };

  Combo.prototype.onKey = function (e) {
    var n = this.matches.length;
    switch (e.key) {
      case 'ArrowDown':
      case 'ArrowUp':
        e.preventDefault();
        if (!this.isOpen()) {
          if (zones.length) { this.filter(this.selected ? '' : this.input.value); }
          return;
        }
        if (e.altKey) { return; }
        this.setActive(Math.max(0, Math.min(n - 1, this.active + (e.key === 'ArrowDown' ? 1 : -1))));
        return;
      case 'PageDown':
      case 'PageUp':
        if (!this.isOpen()) { return; }
        e.preventDefault();
        this.setActive(Math.max(0, Math.min(n - 1, this.active + (e.key === 'PageDown' ? 10 : -10))));
        return;
      case 'Enter':
        // Choose the active zone; with the list closed, Enter submits the form.
        if (this.isOpen() && this.active >= 0) {
          e.preventDefault();
          this.choose(this.matches[this.active]);
        }
        return;
      case 'Tab':
        if (this.isOpen() && this.active >= 0 && !this.selected) { this.choose(this.matches[this.active]); }
        return;
      case 'Escape':
        if (this.isOpen()) { e.preventDefault(); this.close(); } else if (this.input.value) { e.preventDefault(); this.set(null); }
        return;
    }
  };

  // resolve picks the zone the text names when it names exactly one.
  Combo.prototype.resolve = function () {
    var v = this.input.value.trim();
    if (this.selected || !v || !zones.length) { return this.selected; }
    var vn = norm(v);
    var exact = zones.filter(function (z) { return norm(zoneLabel(z)) === vn || z.nameKey === vn || String(z.id) === vn; });
    var hits = exact.length ? exact : search(v);
    if (hits.length === 1) { this.choose(hits[0], true); }
    return this.selected;
  };

  Combo.prototype.choose = function (z, quiet) {
    this.set(z);
    this.close();
    clearError(this.name);
    if (!quiet) { this.onChoose(); }
  };

  // set shows zone z (or nothing) in the field.
  Combo.prototype.set = function (z, text) {
    this.selected = z || null;
    this.input.value = z ? zoneLabel(z) : (text || '');
    this.input.dataset.zoneId = z ? z.id : '';
    this.showHint(z ? 'Zone ' + z.id + ' · ' + z.borough + (z.service_zone && z.service_zone !== 'N/A' ? ' · ' + z.service_zone : '') : this.defaultHint);
  };

  Combo.prototype.showHint = function (text) { this.hint.textContent = text; };

  // The current time in New York, whatever the computer's time zone.
  function nycNow() {
    var parts = {};
    new Intl.DateTimeFormat('en-US', {
      timeZone: NYC, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
    }).formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
    return { date: parts.year + '-' + parts.month + '-' + parts.day, time: parts.hour + ':' + parts.minute };
  }

  function fillNow() {
    autoWhen = nycNow();
    dateInput.value = autoWhen.date;
    timeInput.value = autoWhen.time;
    clearError('when');
  }

  // whenIsAuto reports whether the time shown is still the one the page filled in.
  function whenIsAuto() {
    return autoWhen !== null && dateInput.value === autoWhen.date && timeInput.value === autoWhen.time;
  }

  function formatWhen(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(s);
    if (!m) { return s; }
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]));
    return new Intl.DateTimeFormat('en-US', {
      timeZone: 'UTC', weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23'
    }).format(d);
  }

  // Errors, shown next to their field.
  var fieldInputs = { pickup: ['pickup'], dropoff: ['dropoff'], passengers: ['passengers'], when: ['pickup-date', 'pickup-time'] };
  var apiFields = { PULocationID: 'pickup', DOLocationID: 'dropoff', passenger_count: 'passengers', pickup_datetime: 'when' };
  var fieldNames = { pickup: 'Pickup zone', dropoff: 'Dropoff zone', passengers: 'Passengers', when: 'Pickup time' };

  function showError(field, msg) {
    var el = $(field + '-error');
    el.textContent = msg;
    el.hidden = false;
    fieldInputs[field].forEach(function (id) { $(id).setAttribute('aria-invalid', 'true'); });
  }

  function clearError(field) {
    var el = $(field + '-error');
    if (!el || el.hidden) { return; }
    el.hidden = true;
    el.textContent = '';
    fieldInputs[field].forEach(function (id) { $(id).removeAttribute('aria-invalid'); });
  }

  function showFormError(msg) { formError.textContent = msg; formError.hidden = false; }

  function clearErrors() {
    Object.keys(fieldInputs).forEach(clearError);
    formError.hidden = true;
    formError.textContent = '';
  }

  function focusFirstError() {
    var first = ['pickup', 'dropoff', 'passengers', 'when'].filter(function (f) { return !$(f + '-error').hidden; })[0];
    if (first) { $(fieldInputs[first][0]).focus(); }
  }

  // trip reads the form into a /predict request, or shows why it cannot.
  function trip() {
    var req = {}, ok = true;
    [['pickup', pickup, 'PULocationID'], ['dropoff', dropoff, 'DOLocationID']].forEach(function (f) {
      var z = f[1].resolve();
      if (z) { req[f[2]] = z.id; return; }
      ok = false;
      var typed = f[1].input.value.trim();
      if (!zones.length) { showError(f[0], 'The zone list has not loaded yet.'); }
      else if (typed) { showError(f[0], 'Pick a ' + f[0] + ' zone from the list: “' + typed + '” matches ' + (search(typed).length || 'no') + ' zones.'); }
      else { showError(f[0], 'Choose a ' + f[0] + ' zone.'); }
    });
    if (passengers.validity.badInput) {
      ok = false;
      showError('passengers', 'Passengers must be a whole number from 0 to 9, or empty if unknown.');
    } else if (passengers.value !== '') {
      req.passenger_count = Number(passengers.value); // the server checks the range
    }
    if (whenIsAuto()) { fillNow(); }
    var d = dateInput.value, t = timeInput.value;
    if (d && t) { req.pickup_datetime = d + 'T' + t; }
    else if (d || t || dateInput.validity.badInput || timeInput.validity.badInput) {
      ok = false;
      showError('when', 'Give both a date and a time, or clear both for an estimate without a time.');
    }
    return ok ? req : null;
  }

  function estimate() {
    clearErrors();
    var req = trip();
    if (!req) { focusFirstError(); return; }
    var seq = ++requestSeq;
    var body = JSON.stringify(req);
    result.setAttribute('aria-busy', 'true');
    fetch('predict', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' }, body: body })
      .then(function (resp) {
        return resp.text().then(function (text) {
          var data = null;
          try { data = JSON.parse(text); } catch (err) { /* not JSON: reported below */ }
          return { resp: resp, data: data };
        });
      })
      .then(function (r) {
        if (seq !== requestSeq) { return; }
        result.removeAttribute('aria-busy');
        if (r.resp.ok && r.data) { showResult(req, body, r.data); return; }
        showProblem(r.resp.status, r.data);
      })
      .catch(function () {
        if (seq !== requestSeq) { return; }
        result.removeAttribute('aria-busy');
        showFormError('Could not reach the server. Check the connection and press Estimate again.');
      });
  }

  // showProblem puts an RFC 9457 problem's field errors next to their fields.
  function showProblem(status, p) {
    result.hidden = true;
    var errs = (p && p.errors) || [];
    var shown = false;
    errs.forEach(function (e) {
      var field = apiFields[String(e.location || '').replace(/^body\./, '')];
      if (field) {
        var msg = String(e.message || 'is not valid');
        showError(field, fieldNames[field] + ' ' + msg + (/[.!]$/.test(msg) ? '' : '.'));
        shown = true;
      } else {
        showFormError((e.location ? e.location + ': ' : '') + e.message);
      }
    });
    if (!errs.length) {
      showFormError((p && (p.detail || p.title)) || 'The server answered with status ' + status + '.');
    }
    if (shown) { focusFirstError(); }
  }

  function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

  function showResult(req, body, res) {
    var mins = Math.round(res.trip_duration_prediction);
    var lo = Math.round(res.interval.low), hi = Math.round(res.interval.high);
    $('result-minutes').textContent = String(mins);
    $('result-range').textContent = 'usually ' + lo + '–' + hi + ' min';
    var parts = [zoneLabel(zonesById.get(req.PULocationID)) + ' → ' + zoneLabel(zonesById.get(req.DOLocationID))];
    parts.push('passenger_count' in req ? plural(req.passenger_count, 'passenger') : 'passengers unknown');
    parts.push(req.pickup_datetime ? 'pickup ' + formatWhen(req.pickup_datetime) : 'no pickup time');
    $('result-trip').textContent = parts.join(' · ');
    $('result-model').textContent = 'Model ' + res.model.name + ', version ' + res.model.version;
    result.dataset.minutes = res.trip_duration_prediction;
    result.dataset.low = res.interval.low;
    result.dataset.high = res.interval.high;
    result.dataset.model = res.model.name;
    result.dataset.version = res.model.version;
    result.dataset.request = body;
    result.classList.remove('stale');
    result.hidden = false;
    result.scrollIntoView({ block: 'nearest' });
  }

  function markStale() {
    if (!result.hidden) { result.classList.add('stale'); }
  }

  var pickup = new Combo('pickup', function () { markStale(); });
  var dropoff = new Combo('dropoff', function () { markStale(); });

  $('swap').addEventListener('click', function () {
    var a = pickup.selected, b = dropoff.selected;
    var at = pickup.input.value, bt = dropoff.input.value;
    pickup.set(b, bt);
    dropoff.set(a, at);
    clearError('pickup');
    clearError('dropoff');
    if (a && b && !result.hidden) { estimate(); } else { markStale(); }
  });

  $('now').addEventListener('click', function () { fillNow(); markStale(); });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    estimate();
  });
  form.addEventListener('input', function (e) {
    markStale();
    if (e.target === passengers) { clearError('passengers'); }
    if (e.target === dateInput || e.target === timeInput) { clearError('when'); }
  });

  // Keep "now" current while the page stays open, unless someone changed it.
  setInterval(function () { if (whenIsAuto()) { fillNow(); } }, 20000);

  function loadZones() {
    fetch('zones', { headers: { 'Accept': 'application/json' } })
      .then(function (resp) {
        if (!resp.ok) { throw new Error('status ' + resp.status); }
        return resp.json();
      })
      .then(function (data) {
        zones = data.zones.map(function (z) {
          return {
            id: z.id, zone: z.zone, borough: z.borough, service_zone: z.service_zone || '',
            nameKey: norm(z.zone), key: norm([z.zone, z.borough, z.service_zone || ''].join(' '))
          };
        });
        zonesById = new Map(zones.map(function (z) { return [z.id, z]; }));
        formError.hidden = true;
        form.dataset.ready = 'true';
        [pickup, dropoff].forEach(function (c) {
          if (document.activeElement === c.input && c.input.value.trim()) { c.filter(c.input.value); }
        });
      })
      .catch(function (err) {
        showFormError('Could not load the zone list (' + err.message + '). Reload the page to try again.');
      });
  }

  fillNow();
  loadZones();
})();
