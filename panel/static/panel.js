// callgate operator panel.
//
// A plain client of the gateway's Webitel dialect, so it doubles as an example of one:
//   POST /login                      -> {key, token}   (the session; sent later as headers)
//   GET  /api/v2/channels            -> the user's channels (X-Access-Token + X-Key headers)
//   WebSocket at /                   -> engine API: "auth", "subscribe" to SE:CHANNEL_* events,
//                                       "hangup" / "hold" / "unhold" / "transfer"
//   GET  /healthz                    -> each switch's state
// The session is kept in sessionStorage (never in a URL); the password only in memory, to
// re-authenticate the stream after it drops. Every value from the server reaches the page
// through textContent, never as HTML.
'use strict';

(() => {
  const STORE_KEY = 'callgate.panel.session';
  const EVENTS = ['SE:CHANNEL_CREATE', 'SE:CHANNEL_ANSWER', 'SE:CHANNEL_BRIDGE',
    'SE:CHANNEL_UNBRIDGE', 'SE:CHANNEL_HOLD', 'SE:CHANNEL_UNHOLD',
    'SE:CHANNEL_CALLSTATE', 'SE:CHANNEL_HANGUP', 'SE:CHANNEL_HANGUP_COMPLETE',
    'SE:CHANNEL_DESTROY'];
  const GONE = new Set(['SE:CHANNEL_HANGUP', 'SE:CHANNEL_HANGUP_COMPLETE', 'SE:CHANNEL_DESTROY']);
  const STATE_WORDS = {
    DOWN: 'new', RINGING: 'ringing', EARLY: 'early media', ACTIVE: 'answered',
    HELD: 'on hold', RING_WAIT: 'ringing', HANGUP: 'hanging up', UNHELD: 'answered',
  };
  const POLL_MS = 1000;       // the list, while the live stream is not there
  const HEALTH_MS = 1000;     // /healthz
  const COMMAND_MS = 10000;   // a command without an answer by then has failed

  const $ = (id) => document.getElementById(id);

  const st = {
    session: null,            // {login, key, token}
    secret: null,             // the password, in memory only
    rows: new Map(),          // channel id -> Webitel channel row
    callOf: new Map(),        // channel id -> call id, learned from events
    trs: new Map(),           // channel id -> <tr>
    bodies: new Map(),        // call id -> <tbody>
    nodeOf: new Map(),        // switch hostname -> node name
    asked: new Set(),         // hostnames already asked about
    health: new Map(),        // node -> state
    skew: 0,                  // server clock - browser clock, ms
    ws: null, live: false, everLive: false, lost: false, retry: 0,
    pending: new Map(), seq: 0,
    listAsked: 0, listShown: 0, // list reads sent / the newest one shown
    timers: [], refreshTimer: null, reconnectTimer: null, backTimer: null,
    generation: 0,            // bumps at sign-out, so late answers of a session are ignored
  };

  // ------------------------------------------------------------------ sign-in / sign-out

  function showSignin(message) {
    $('panel').hidden = true;
    $('signin').hidden = false;
    const err = $('signin-error');
    err.textContent = message || '';
    err.hidden = !message;
    $('signin-button').disabled = false;
    $('password').value = '';
    (message ? $('password') : $('username')).focus();
  }

  async function resolveLogin(username, password, realm) {
    if (username === 'root' || username.includes('@')) return username;
    if (realm) return `${username}@${realm}`;
    const r = await fetch('signin-name', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `Sign-in failed (HTTP ${r.status}).`);
    return body.login;
  }

  async function signIn(event) {
    event.preventDefault();
    const username = $('username').value.trim();
    const password = $('password').value;
    const realm = $('realm').value.trim();
    if (!username || !password) {
      showSignin('Type your username and password.');
      return;
    }
    $('signin-button').disabled = true;
    try {
      const login = await resolveLogin(username, password, realm);
      const r = await fetch('/login', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: login, password }),
      });
      const body = await r.json().catch(() => ({}));
      if (r.status === 401 || r.status === 403) throw new Error('Wrong username or password.');
      if (!r.ok || !body.token || !body.key) {
        throw new Error(`Sign-in failed: ${body.info || body.message || `HTTP ${r.status}`}.`);
      }
      st.session = { login, key: body.key, token: body.token };
      st.secret = password;
      sessionStorage.setItem(STORE_KEY, JSON.stringify(st.session));
      $('password').value = '';
      start();
    } catch (e) {
      showSignin(e instanceof TypeError ? 'The gateway cannot be reached.' : e.message);
    }
  }

  function stop() {
    st.generation += 1;
    st.timers.forEach(clearInterval);
    st.timers = [];
    clearTimeout(st.refreshTimer);
    st.refreshTimer = null;
    clearTimeout(st.reconnectTimer);
    clearTimeout(st.backTimer);
    if (st.ws) { st.ws.onclose = null; st.ws.close(); st.ws = null; }
    st.live = st.everLive = st.lost = false;
    st.retry = 0;
    st.pending.forEach((p) => p.reject(new Error('signed out')));
    st.pending.clear();
    st.rows.clear();
    st.callOf.clear();
    render();
  }

  function forget() {
    stop();
    st.session = null;
    st.secret = null;
    sessionStorage.removeItem(STORE_KEY);
  }

  function expired() {
    forget();
    showSignin('Your session has expired. Sign in again.');
  }

  async function signOut() {
    const s = st.session;
    forget();
    showSignin('');
    if (s) {
      fetch('/logout', { method: 'POST', headers: authHeaders(s) }).catch(() => {});
    }
  }

  function start() {
    $('signin').hidden = true;
    $('panel').hidden = false;
    $('who').textContent = `signed in as ${st.session.login}`;
    setStream('connecting', 'Connecting the live stream…');
    refresh();
    health();
    st.timers.push(setInterval(health, HEALTH_MS));
    st.timers.push(setInterval(tick, 1000));
    st.timers.push(setInterval(() => { if (!st.live) refresh(); }, POLL_MS));
    connect();
  }

  // ------------------------------------------------------------------------- REST

  function authHeaders(s = st.session) {
    return { 'X-Access-Token': s.token, 'X-Key': s.key };
  }

  async function api(method, path, body) {
    const gen = st.generation;
    const init = { method, headers: authHeaders() };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(path, init);
    if (gen !== st.generation) throw new Error('signed out');
    const date = Date.parse(r.headers.get('Date') || '');
    if (!Number.isNaN(date)) st.skew = date - Date.now();
    const answer = await r.json().catch(() => ({}));
    if (r.status === 401) {
      expired();
      throw new Error('expired');
    }
    return { status: r.status, body: answer };
  }

  async function refresh() {
    if (!st.session) return;
    st.listAsked += 1;
    const mine = st.listAsked;
    let got;
    try {
      got = await api('GET', '/api/v2/channels');
    } catch (e) {
      return;
    }
    if (got.status !== 200 || mine < st.listShown) return; // a newer list is already shown
    st.listShown = mine;
    const data = got.body.data || got.body;
    st.rows = new Map((data.rows || []).map((row) => [row.uuid, row]));
    askNodes();
    render();
  }

  // At most one list read per 100 ms however busy the switches are (a debounce would starve
  // under steady traffic).
  function scheduleRefresh() {
    if (st.refreshTimer) return;
    st.refreshTimer = setTimeout(() => { st.refreshTimer = null; refresh(); }, 100);
  }

  async function askNodes() {
    const fresh = [...new Set([...st.rows.values()].map((r) => r.hostname))]
      .filter((h) => h && !st.asked.has(h));
    if (!fresh.length) return;
    fresh.forEach((h) => st.asked.add(h));
    const q = new URLSearchParams(fresh.map((h) => ['hostname', h]));
    try {
      const r = await fetch(`nodes?${q}`);
      const body = await r.json();
      Object.entries(body.nodes || {}).forEach(([h, n]) => st.nodeOf.set(h, n));
      render();
    } catch (e) {
      fresh.forEach((h) => st.asked.delete(h));
    }
  }

  async function health() {
    let report;
    try {
      const r = await fetch('/healthz');
      report = (await r.json()).backends || [];
    } catch (e) {
      return;
    }
    st.health = new Map(report.map((b) => [b.name, b.state]));
    const list = $('switches');
    list.replaceChildren(...report.map((b) => {
      const li = document.createElement('li');
      li.className = b.state;
      li.dataset.node = b.name;
      li.textContent = `${b.name} (${b.type}): ${b.state}`;
      if (b.last_error) li.title = b.last_error;
      return li;
    }));
    const down = report.filter((b) => b.state !== 'connected').map((b) => b.name);
    const alert = $('switch-alert');
    alert.hidden = !down.length;
    alert.textContent = down.length
      ? `Switch ${down.join(', ')} ${down.length > 1 ? 'are' : 'is'} down: `
        + 'its calls are greyed out until it is back.'
      : '';
    render();
  }

  // ------------------------------------------------------------------- the stream

  function setStream(kind, text) {
    const el = $('stream');
    el.className = `stream ${kind}`;
    el.textContent = text;
  }

  function connect() {
    if (!st.session) return;
    const gen = st.generation;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/`);
    } catch (e) {
      reconnectLater();
      return;
    }
    st.ws = ws;
    ws.onopen = async () => {
      try {
        const args = st.secret
          ? { account: st.session.login, secret: st.secret }
          : { key: st.session.key, token: st.session.token };
        const auth = await exec('auth', args);
        if (auth['exec-complete'] !== '+OK') {
          await authRefused();
          return;
        }
        for (const name of EVENTS) {
          await exec('subscribe', { event: name });
        }
      } catch (e) {
        return; // the socket closed meanwhile: onclose reconnects
      }
      if (gen !== st.generation) return;
      st.live = true;
      st.retry = 0;
      if (st.lost) {
        st.lost = false;
        setStream('back', 'Live stream reconnected.');
        clearTimeout(st.backTimer);
        st.backTimer = setTimeout(() => { if (st.live) setStream('live', 'Live'); }, 4000);
      } else {
        setStream('live', 'Live');
      }
      st.everLive = true;
      refresh();
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (msg === null || typeof msg !== 'object') return;
      if ('webitel-event-name' in msg) {
        onEvent(msg);
        return;
      }
      const waiting = st.pending.get(msg['exec-uuid']);
      if (waiting) {
        st.pending.delete(msg['exec-uuid']);
        waiting.resolve(msg);
      }
    };
    ws.onclose = () => {
      if (st.ws !== ws) return;
      st.ws = null;
      st.pending.forEach((p) => p.reject(new Error('stream closed')));
      st.pending.clear();
      if (!st.session || gen !== st.generation) return;
      if (st.live || st.everLive) {
        st.lost = true;
        setStream('lost', 'Live stream lost: reconnecting… (the list refreshes every second)');
      } else {
        setStream('lost', 'Live stream unavailable: the list refreshes every second.');
      }
      st.live = false;
      reconnectLater();
    };
  }

  async function authRefused() {
    // The stream refused us: if the REST session is gone too, sign in again; else keep polling.
    if (st.ws) { st.ws.onclose = null; st.ws.close(); st.ws = null; }
    try {
      const got = await api('GET', '/api/v2/whoami');
      if (got.status === 200) {
        setStream('lost', 'Live stream refused the session: the list refreshes every second.');
        reconnectLater(30000);
      }
    } catch (e) { /* expired() already ran */ }
  }

  function reconnectLater(ms) {
    clearTimeout(st.reconnectTimer);
    const delay = ms || Math.min(5000, 250 * (2 ** st.retry));
    st.retry += 1;
    st.reconnectTimer = setTimeout(connect, delay);
  }

  function exec(func, args) {
    return new Promise((resolve, reject) => {
      const ws = st.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new Error('The live stream is not connected.'));
        return;
      }
      st.seq += 1;
      const id = `p${Date.now().toString(36)}-${st.seq}`;
      const timer = setTimeout(() => {
        st.pending.delete(id);
        reject(new Error(`no answer to ${func}`));
      }, COMMAND_MS);
      st.pending.set(id, {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      ws.send(JSON.stringify({ 'exec-uuid': id, 'exec-func': func, 'exec-args': args || {} }));
    });
  }

  function onEvent(msg) {
    const name = String(msg['Event-Name'] || '');
    if (!name.startsWith('SE:CHANNEL_')) return;
    const id = msg['Unique-ID'];
    if (!id) return;
    const call = msg['Channel-Call-UUID'];
    if (GONE.has(name)) st.callOf.delete(id);
    else if (call) st.callOf.set(id, call);
    const row = st.rows.get(id);
    if (row) {
      if (GONE.has(name)) {
        st.rows.delete(id);
      } else if (name === 'SE:CHANNEL_HOLD') {
        row.callstate = 'HELD';
      } else if (name === 'SE:CHANNEL_UNHOLD' || name === 'SE:CHANNEL_ANSWER') {
        row.callstate = 'ACTIVE';
      } else if (msg['Channel-Call-State']) {
        row.callstate = msg['Channel-Call-State'];
      }
      render();
    }
    scheduleRefresh(); // the list is the truth: new legs, callee, bridge partners
  }

  // --------------------------------------------------------------------- commands

  function notice(text) {
    const el = $('notice');
    el.textContent = text;
    el.hidden = !text;
  }

  async function command(action, id, target) {
    const wordy = { hangup: 'Hang up', hold: 'Hold', unhold: 'Unhold', transfer: 'Transfer' };
    try {
      let ok;
      let why = '';
      if (st.live) {
        const args = { 'channel-uuid': id };
        if (action === 'transfer') args.destination = target;
        const reply = await exec(action, args);
        ok = reply['exec-complete'] === '+OK'
          && !String(reply['exec-response'] || '').startsWith('-ERR');
        why = String(reply['exec-response'] || reply['exec-complete'] || '').trim();
      } else if (action === 'transfer') {
        throw new Error('Transfer needs the live stream, which is reconnecting.');
      } else {
        const got = action === 'hangup'
          ? await api('DELETE', `/api/v2/channels/${encodeURIComponent(id)}`)
          : await api('PUT', `/api/v2/channels/${encodeURIComponent(id)}`, { state: action });
        ok = got.status === 200 && !String(got.body.info || '').startsWith('-ERR');
        why = String(got.body.info || `HTTP ${got.status}`).trim();
      }
      notice(ok ? '' : `${wordy[action]} failed: ${why}`);
    } catch (e) {
      if (e.message !== 'expired' && e.message !== 'signed out') {
        notice(`${wordy[action]} failed: ${e.message}`);
      }
    }
    scheduleRefresh();
  }

  function onClick(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const tr = button.closest('tr[data-channel-id]');
    if (!tr) return;
    const id = tr.dataset.channelId;
    const action = button.dataset.action;
    let target;
    if (action === 'transfer') {
      target = tr.querySelector('input.target').value.trim();
      if (!target) {
        notice('Type the number to transfer to.');
        return;
      }
    }
    command(action, id, target);
  }

  // ------------------------------------------------------------------------ table

  function gone(row) {
    return row.callstate === 'HANGUP' || row.state === 'CS_HANGUP'
      || row.state === 'CS_REPORTING' || row.state === 'CS_DESTROY';
  }

  function callId(row) {
    return st.callOf.get(row.uuid) || row.call_uuid || row.uuid;
  }

  function nodeName(row) {
    return st.nodeOf.get(row.hostname) || row.hostname || '';
  }

  function isDown(row) {
    const state = st.health.get(nodeName(row));
    return state !== undefined && state !== 'connected';
  }

  function cell(tr, cls) {
    const td = document.createElement('td');
    td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function party(td, name, number) {
    const main = name && name !== number ? name : (number || '');
    const nameEl = document.createElement('span');
    nameEl.className = 'name';
    nameEl.textContent = main;
    const numEl = document.createElement('span');
    numEl.className = 'num';
    numEl.textContent = main !== number ? (number || '') : '';
    td.replaceChildren(nameEl, numEl);
  }

  function button(label, action, cls) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = action;
    if (cls) b.className = cls;
    return b;
  }

  function makeRow(id) {
    const tr = document.createElement('tr');
    tr.dataset.channelId = id;
    cell(tr, 'caller');
    cell(tr, 'callee');
    cell(tr, 'state');
    cell(tr, 'duration');
    cell(tr, 'node');
    const actions = cell(tr, 'actions-cell');
    const box = document.createElement('div');
    box.className = 'actions';
    const input = document.createElement('input');
    input.className = 'target';
    input.placeholder = 'number';
    input.setAttribute('aria-label', 'Transfer to');
    box.append(button('Hang up', 'hangup', 'danger'), button('Hold', 'hold', 'quiet hold'), input,
      button('Transfer', 'transfer', 'quiet'));
    actions.appendChild(box);
    return tr;
  }

  function fill(tr, row) {
    const down = isDown(row);
    const held = row.callstate === 'HELD';
    tr.dataset.state = row.callstate || '';
    tr.classList.toggle('down', down);
    party(tr.querySelector('.caller'), row.cid_name, row.cid_num);
    // a dialled (outbound) leg calls its destination; FreeSWITCH's callee columns on it name
    // the calling party once bridged
    if (row.direction === 'outbound') party(tr.querySelector('.callee'), '', row.dest);
    else party(tr.querySelector('.callee'), row.callee_name, row.callee_num || row.dest);
    tr.querySelector('.state').textContent = down
      ? 'switch down' : (STATE_WORDS[row.callstate] || (row.callstate || '').toLowerCase());
    tr.querySelector('.node').textContent = nodeName(row);
    const hold = tr.querySelector('button.hold');
    hold.textContent = held ? 'Unhold' : 'Hold';
    hold.dataset.action = held ? 'unhold' : 'hold';
    tr.querySelectorAll('button, input').forEach((el) => { el.disabled = down; });
    tr.dataset.created = row.created_epoch || '';
  }

  function duration(tr) {
    const created = Number(tr.dataset.created);
    const td = tr.querySelector('.duration');
    if (!created) { td.textContent = ''; return; }
    const s = Math.max(0, Math.floor((Date.now() + st.skew) / 1000 - created));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    td.textContent = h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function tick() {
    st.trs.forEach(duration);
  }

  function place(parent, child, index) {
    const at = parent.children[index] || null;
    if (at !== child) parent.insertBefore(child, at);
  }

  function render() {
    const groups = new Map();
    for (const row of st.rows.values()) {
      if (gone(row)) continue;
      const key = callId(row);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(row);
    }
    const byTime = (a, b) => (Number(a.created_epoch) - Number(b.created_epoch))
      || (a.uuid < b.uuid ? -1 : 1);
    // the leg that started the call first, then the others as they came
    const legOrder = (key) => (a, b) => (b.uuid === key) - (a.uuid === key) || byTime(a, b);
    const calls = [...groups.entries()].map(([key, legs]) => [key, legs.sort(legOrder(key))])
      .sort((a, b) => byTime(a[1][0], b[1][0]));
    const table = $('calls');
    const keepRows = new Set();
    const keepBodies = new Set();
    calls.forEach(([key, legs], i) => {
      let body = st.bodies.get(key);
      if (!body) {
        body = document.createElement('tbody');
        body.className = 'call';
        body.dataset.callId = key;
        st.bodies.set(key, body);
      }
      keepBodies.add(key);
      place(table, body, i + 1); // after the <thead>
      legs.forEach((row, j) => {
        let tr = st.trs.get(row.uuid);
        if (!tr) {
          tr = makeRow(row.uuid);
          st.trs.set(row.uuid, tr);
        }
        keepRows.add(row.uuid);
        fill(tr, row);
        duration(tr);
        place(body, tr, j);
      });
    });
    st.trs.forEach((tr, id) => { if (!keepRows.has(id)) { tr.remove(); st.trs.delete(id); } });
    st.bodies.forEach((b, key) => { if (!keepBodies.has(key)) { b.remove(); st.bodies.delete(key); } });
    const live = calls.filter(([, legs]) => !legs.every(isDown)).length;
    $('count').textContent = `${live} live call${live === 1 ? '' : 's'}`;
    $('empty').hidden = calls.length > 0;
  }

  // ------------------------------------------------------------------------- boot

  function boot() {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', signOut);
    $('calls').addEventListener('click', onClick);
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null'); } catch (e) { saved = null; }
    if (saved && saved.key && saved.token && saved.login) {
      st.session = saved;
      start();
    } else {
      showSignin('');
    }
  }

  boot();
})();
