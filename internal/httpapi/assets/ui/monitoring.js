// taxieta monitoring page: polls GET /monitoring (scores) and
// GET /monitoring/distributions (counts) and draws them as inline SVG.
// No libraries, nothing from outside the server.
'use strict';
(() => {
  const POLL_MS = 5000;
  const HISTORY_CAP = 720; // polls kept in memory: an hour at one poll every 5 s
  const SVG = 'http://www.w3.org/2000/svg';
  const COLORS = {pickup_zone: '#0b57d0', dropoff_zone: '#7b3fc4', passenger_category: '#1e8e3e', hour_of_week: '#e37400', estimate: '#b3261e'};
  const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const main = document.getElementById('monitoring');
  const sel = document.getElementById('window');
  const history = []; // {at, windows: {name: {feature: ratio}}}
  let boroughOf = null; // zone id -> borough
  let lastDist = null;

  const el = (name, attrs, text) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmt = (v, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const getJSON = async (url) => {
    const r = await fetch(url, {headers: {Accept: 'application/json'}, cache: 'no-store'});
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.json();
  };

  function setOff(reason) {
    main.dataset.enabled = 'false';
    document.getElementById('panels').hidden = true;
    const st = document.getElementById('status');
    st.textContent = '';
    const p = document.createElement('p');
    p.id = 'monitoring-off';
    p.className = 'off';
    const b = document.createElement('strong');
    b.textContent = 'Monitoring is off: ';
    p.append(b, reason + '.');
    st.append(p);
  }

  function drawScores(snap) {
    const tbody = document.querySelector('#scores tbody');
    tbody.textContent = '';
    for (const w of snap.windows) {
      for (const f of w.features) {
        const tr = document.createElement('tr');
        tr.dataset.window = w.window;
        tr.dataset.feature = f.feature;
        tr.dataset.flag = String(f.flag);
        tr.dataset.computed = String(f.computed);
        if (f.flag) tr.className = 'flagged';
        else if (!f.computed) tr.className = 'not-computed';
        const cells = [
          [w.window], [f.feature.replace(/_/g, ' ')], [String(f.trips), 'num'],
          [f.computed ? fmt(f.score) : 'too few trips', 'num'], [f.computed ? fmt(f.threshold) : '–', 'num'],
          [f.computed && f.threshold > 0 ? fmt(f.score / f.threshold, 2) : '–', 'num'],
          [(100 * f.unknown_share).toFixed(1) + '%', 'num'],
          [f.flag ? 'FLAGGED' : (f.computed ? 'ok' : '–'), 'flag'],
        ];
        for (const [text, cls] of cells) {
          const td = document.createElement('td');
          td.textContent = text;
          if (cls) td.className = cls;
          tr.append(td);
        }
        tbody.append(tr);
      }
    }
  }

  function record(snap) {
    const entry = {at: new Date(snap.at), windows: {}};
    for (const w of snap.windows) {
      entry.windows[w.window] = {};
      for (const f of w.features) {
        if (f.computed && f.threshold > 0) entry.windows[w.window][f.feature] = f.score / f.threshold;
      }
    }
    history.push(entry);
    if (history.length > HISTORY_CAP) history.splice(0, history.length - HISTORY_CAP);
  }

  function drawHistory() {
    const box = document.getElementById('history');
    box.textContent = '';
    const W = 720, H = 220, L = 40, R = 150, T = 10, B = 24;
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Score divided by threshold over time'});
    const win = sel.value;
    const pts = history.filter((h) => h.windows[win]);
    let top = 1.5;
    for (const h of pts) for (const v of Object.values(h.windows[win])) top = Math.max(top, v * 1.1);
    const y = (v) => T + (H - T - B) * (1 - v / top);
    const x = (i) => L + (W - L - R) * (pts.length > 1 ? i / (pts.length - 1) : 0.5);
    svg.append(el('line', {x1: L, x2: W - R, y1: y(1), y2: y(1), stroke: '#b3261e', 'stroke-dasharray': '4 3'}));
    svg.append(el('text', {x: 2, y: y(1) + 4}, '1 (flag)'));
    svg.append(el('text', {x: 2, y: T + 8}, top.toFixed(1)));
    svg.append(el('line', {x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: '#c9ced6'}));
    let row = 0;
    for (const [feature, color] of Object.entries(COLORS)) {
      const vals = pts.map((h, i) => [i, h.windows[win][feature]]).filter(([, v]) => v !== undefined);
      if (vals.length > 0) {
        const line = el('polyline', {fill: 'none', stroke: color, 'stroke-width': 2, class: 'series', 'data-feature': feature,
          points: vals.map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')});
        svg.append(line);
        for (const [i, v] of vals.slice(-1)) svg.append(el('circle', {cx: x(i), cy: y(v), r: 3, fill: color}));
      }
      svg.append(el('rect', {x: W - R + 10, y: T + row * 16, width: 10, height: 10, fill: color}));
      svg.append(el('text', {x: W - R + 24, y: T + row * 16 + 9}, feature.replace(/_/g, ' ')));
      row++;
    }
    if (pts.length > 0) {
      svg.append(el('text', {x: L, y: H - 6}, pts[0].at.toLocaleTimeString()));
      svg.append(el('text', {x: W - R, y: H - 6, 'text-anchor': 'end'}, pts[pts.length - 1].at.toLocaleTimeString()));
    }
    box.append(svg);
    box.dataset.points = String(pts.length);
  }

  const shares = (counts) => {
    const n = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (n > 0 ? c / n : 0));
  };

  // bars draws grouped bars: reference and now, per label.
  function bars(id, labels, ref, now) {
    const box = document.getElementById(id);
    box.textContent = '';
    const W = 720, H = 200, L = 40, T = 8, B = 40;
    const top = Math.max(0.01, ...ref, ...now) * 1.1;
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': id.replace('chart-', '')});
    const slot = (W - L) / labels.length;
    const bw = Math.max(1, slot * 0.38);
    const y = (v) => T + (H - T - B) * (1 - v / top);
    svg.append(el('text', {x: 2, y: T + 8}, (100 * top).toFixed(0) + '%'));
    labels.forEach((label, i) => {
      const x0 = L + i * slot + slot * 0.1;
      for (const [k, v, dx] of [['ref', ref[i], 0], ['now', now[i], bw]]) {
        const r = el('rect', {x: (x0 + dx).toFixed(1), y: y(v).toFixed(1), width: bw.toFixed(1), height: Math.max(0, H - B - y(v)).toFixed(1), class: k});
        r.append(el('title', {}, `${label}: ${k === 'ref' ? 'training' : 'now'} ${(100 * v).toFixed(1)}%`));
        svg.append(r);
      }
      if (labels.length <= 16) svg.append(el('text', {x: (x0 + bw).toFixed(1), y: H - B + 14, 'text-anchor': 'middle'}, label));
    });
    svg.append(el('line', {x1: L, x2: W, y1: H - B, y2: H - B, stroke: '#c9ced6'}));
    box.append(svg);
  }

  // lines draws the reference and now as two lines over many bins.
  function lines(id, ref, now, ticks) {
    const box = document.getElementById(id);
    box.textContent = '';
    const W = 720, H = 200, L = 40, T = 8, B = 24;
    const top = Math.max(0.001, ...ref, ...now) * 1.1;
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': id.replace('chart-', '')});
    const x = (i) => L + (W - L) * (i / Math.max(1, ref.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    for (const [k, s] of [['ref', ref], ['now', now]]) {
      svg.append(el('polyline', {fill: 'none', 'stroke-width': 1.5, class: k, points: s.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}));
    }
    for (const [i, label] of ticks) {
      svg.append(el('line', {x1: x(i), x2: x(i), y1: T, y2: H - B, stroke: '#e4e7eb'}));
      svg.append(el('text', {x: x(i) + 3, y: H - 8}, label));
    }
    svg.append(el('text', {x: 2, y: T + 8}, (100 * top).toFixed(1) + '%'));
    box.append(svg);
  }

  function byBorough(counts) {
    const out = {};
    counts.forEach((c, zone) => {
      const b = (boroughOf && boroughOf.get(zone)) || 'Unknown';
      out[b] = (out[b] || 0) + c;
    });
    return out;
  }

  function drawDistributions(dist) {
    lastDist = dist;
    const w = dist.windows.find((x) => x.window === sel.value) || dist.windows[0];
    if (!w) return;
    document.getElementById('dist-trips').textContent = `${w.trips} trips in the last ${w.window}; the training data has ${dist.reference[0].counts.reduce((a, b) => a + b, 0)}.`;
    document.getElementById('dist-trips').dataset.trips = String(w.trips);
    const now = Object.fromEntries(w.features.map((f) => [f.feature, f.counts]));
    for (const ref of dist.reference) {
      const id = 'chart-' + ref.feature;
      const cur = now[ref.feature] || ref.counts.map(() => 0);
      if (ref.feature === 'pickup_zone' || ref.feature === 'dropoff_zone') {
        const r = byBorough(ref.counts), c = byBorough(cur);
        const names = Object.keys(r).sort();
        bars(id, names, shares(names.map((n) => r[n])), shares(names.map((n) => c[n] || 0)));
      } else if (ref.feature === 'hour_of_week') {
        // The last bin is "no pickup time": left out of the chart, as of the score.
        lines(id, shares(ref.counts.slice(0, 168)), shares(cur.slice(0, 168)), DAYS.map((d, i) => [24 * i, d]));
      } else if (ref.feature === 'estimate') {
        const e = ref.edges || [];
        const labels = e.map((v, i) => (i === 0 ? '≤' : '') + v.toFixed(0)).concat(['>' + (e.length ? e[e.length - 1].toFixed(0) : ''), 'n/a']);
        bars(id, labels, shares(ref.counts), shares(cur));
      } else {
        const labels = ref.counts.map((_, i) => (i === ref.counts.length - 1 ? '?' : String(i)));
        bars(id, labels, shares(ref.counts), shares(cur));
      }
    }
  }

  async function poll() {
    try {
      const [snap, dist] = await Promise.all([getJSON('../monitoring'), getJSON('distributions')]);
      if (!snap.enabled) {
        setOff(snap.reason || 'the served model is not monitored');
        return;
      }
      main.dataset.enabled = 'true';
      document.getElementById('panels').hidden = false;
      if (sel.options.length === 0) {
        for (const w of snap.windows) sel.append(new Option(`last ${w.window}`, w.window));
      }
      drawScores(snap);
      record(snap);
      drawHistory();
      drawDistributions(dist);
      main.dataset.polls = String(Number(main.dataset.polls || 0) + 1);
      showError('');
    } catch (err) {
      showError('Could not read the scores (' + err.message + '); retrying every ' + POLL_MS / 1000 + ' s.');
    }
  }

  // showError shows (or, with '', clears) a problem reading the server.
  function showError(text) {
    let p = document.getElementById('poll-error');
    if (!p) {
      p = document.createElement('p');
      p.id = 'poll-error';
      p.className = 'form-error';
      document.getElementById('status').append(p);
    }
    p.textContent = text;
    p.hidden = text === '';
  }

  async function start() {
    document.getElementById('history-cap').textContent = String(HISTORY_CAP);
    if (main.dataset.enabled !== 'true') return;
    try {
      const zones = await getJSON('../zones');
      boroughOf = new Map(zones.zones.map((z) => [z.id, z.borough]));
    } catch (err) {
      showError('Could not read the zones (' + err.message + '); zones are shown as Unknown.');
    }
    sel.addEventListener('change', () => { drawHistory(); if (lastDist) drawDistributions(lastDist); });
    await poll();
    main.dataset.ready = 'true';
    setInterval(poll, POLL_MS);
  }
  start();
})();
