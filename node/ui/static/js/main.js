// The dashboard: status, blocks, one block, pool, mining, peers and
// workers, kept current by the live stream (live.js).

import { parse, PyInt, PyFloat, blockPreimage, floatRepr, intRepr } from './pyjson.js';
import { sha256Hex } from './sha256.js';
import { connect } from './live.js';
import { $, el, setText, num, rate, when, short, api, postJSON } from './util.js';

const PAGE = 20; // blocks a page
const POOL_FETCH_MAX = 500; // fetch /pending_tx only while the pool is this small
const POOL_SHOW = 200; // pending transactions listed

const st = {
  length: 0, tip: '', difficulty: '', hasher: '', workers: 0, cpu: null,
  pending: 0, peers: 0, peerList: [], rates: [], mining: false, autoMine: false,
};

// ---------- values from parsed JSON ----------

const pyNum = (v) => (v instanceof PyInt ? Number(v.text) : v instanceof PyFloat ? v.value : v);
const pyText = (v) => (v instanceof PyInt ? intRepr(v.text) : v instanceof PyFloat ? floatRepr(v.value) : typeof v === 'string' ? v : v === null ? 'null' : String(v));

// summary is what a row of the block list shows.
function summary(b) {
  return {
    index: pyText(b.get('index')), hash: b.get('hash') ?? '', nonce: pyText(b.get('nonce')),
    txs: (b.get('transactions') || []).length, time: pyNum(b.get('timestamp')),
  };
}

// ---------- status ----------

function renderStatus() {
  setText('s-height', st.length ? num(st.length - 1) : '–');
  setText('s-tip', st.tip ? short(st.tip) : '–');
  $('s-tip').title = st.tip;
  setText('s-difficulty', st.difficulty || '–');
  setText('s-pending', num(st.pending));
  setText('s-peers', num(st.peers));
  setText('s-kernel', st.hasher ? `${st.hasher} · ${st.workers} worker${st.workers === 1 ? '' : 's'}` : '–');
  if (st.cpu) {
    setText('s-cpu', `${st.cpu.model || st.cpu.arch} · ${st.cpu.logical_cpus} threads`);
    setText('s-cpu-features', st.cpu.features?.length ? st.cpu.features.join(' · ') : '');
  }
  const now = st.rates.length ? st.rates[st.rates.length - 1] : 0;
  setText('s-rate', rate(now));
  const peak = st.rates.reduce((a, b) => Math.max(a, b), 0);
  setText('s-rate-peak', peak > 0 ? `peak ${rate(peak)} in the last ${Math.ceil(st.rates.length / 60)} min` : st.mining ? 'mining' : 'idle');
  drawSpark();
}

function drawSpark() {
  const r = st.rates;
  const W = 600, H = 60;
  const max = r.reduce((a, b) => Math.max(a, b), 0) || 1;
  if (!r.length) { $('spark-line').setAttribute('d', ''); $('spark-area').setAttribute('d', ''); return; }
  const x0 = W - r.length;
  let d = '';
  r.forEach((v, i) => { d += `${i ? 'L' : 'M'}${x0 + i} ${(H - 2 - (v / max) * (H - 6)).toFixed(1)}`; });
  $('spark-line').setAttribute('d', d);
  $('spark-area').setAttribute('d', `${d}L${W - 1} ${H}L${x0} ${H}Z`);
  $('spark').setAttribute('aria-label', `hash rate, last ${r.length} s, peak ${rate(max)}`);
}

function pushRate(v) {
  st.rates.push(v);
  if (st.rates.length > 600) st.rates.splice(0, st.rates.length - 600);
}

// ---------- blocks ----------

let pageTop = null; // the highest height on the page shown; null follows the tip
let shownTop = -1; // the highest height in the list now
let loading = 0;

function blockRow(s, fresh) {
  const tr = el('tr', { class: fresh ? 'new' : undefined, 'data-index': s.index },
    el('td', {}, el('a', { href: `#/block/${s.index}`, text: s.index })),
    el('td', {}, el('code', { title: s.hash, text: short(s.hash) })),
    el('td', { class: 'num', text: s.nonce }),
    el('td', { class: 'num', text: String(s.txs) }),
    el('td', { text: typeof s.time === 'number' ? when(s.time) : String(s.time) }),
  );
  return tr;
}

// fetchRange reads blocks lo..hi (at most 1000) with GET /blocks, in
// more than one request when the node sends fewer (it caps an answer's
// bytes). It returns {length, blocks} or {error}.
async function fetchRange(lo, hi) {
  const blocks = [];
  let length = 0;
  for (let cur = lo; cur <= hi;) {
    const r = await api(`/blocks?from=${cur}&limit=${hi - cur + 1}`);
    if (!r.ok) return { error: `${r.status} ${r.text}` };
    const page = parse(r.text);
    length = pyNum(page.get('length'));
    const got = page.get('blocks');
    blocks.push(...got);
    if (!got.length) break;
    cur += got.length;
  }
  return { length, blocks };
}

async function loadPage() {
  const my = ++loading;
  const len = st.length;
  if (!len) return;
  const hi = pageTop === null ? len - 1 : Math.min(pageTop, len - 1);
  const from = Math.max(0, hi - PAGE + 1);
  const res = await fetchRange(from, hi);
  if (my !== loading) return; // a newer load started
  if (res.error) { setText('page-info', `could not load blocks: ${res.error}`); return; }
  const blocks = res.blocks;
  const rows = blocks.map(summary).reverse();
  for (const b of blocks) cache(b);
  $('block-rows').replaceChildren(...rows.map((s) => blockRow(s, false)));
  shownTop = rows.length ? Number(rows[0].index) : -1;
  renderPager(res.length);
}

function renderPager(len) {
  const hi = shownTop;
  const lo = Math.max(0, hi - PAGE + 1);
  setText('page-info', len ? `${num(lo)}–${num(hi)} of ${num(len - 1)}` : '');
  $('newer').disabled = pageTop === null || hi >= len - 1;
  $('older').disabled = lo <= 0;
}

function onBlock(ev) {
  st.length = Math.max(st.length, ev.length);
  if (ev.length === st.length) st.tip = ev.hash;
  renderStatus();
  if (pageTop !== null) { renderPager(st.length); return; }
  if (ev.index !== shownTop + 1) { loadPage(); return; }
  loading++; // a page load in flight started before this block: its answer is older
  const rows = $('block-rows');
  rows.prepend(blockRow({ index: String(ev.index), hash: ev.hash, nonce: String(ev.nonce), txs: ev.txs, time: ev.timestamp }, true));
  while (rows.children.length > PAGE) rows.lastElementChild.remove();
  shownTop = ev.index;
  renderPager(st.length);
}

// loadPageSoon reloads the page at most every 300 ms while changes come
// in bursts (a paged sync appends a page at a time).
let pageTimer = null;
function loadPageSoon() {
  if (!pageTimer) pageTimer = setTimeout(() => { pageTimer = null; loadPage(); }, 300);
}

// A small cache of parsed blocks by height, for the block view and
// search.
const blockCache = new Map();
function cache(b) {
  const k = pyText(b.get('index'));
  blockCache.delete(k);
  blockCache.set(k, b);
  if (blockCache.size > 500) blockCache.delete(blockCache.keys().next().value);
}

async function fetchBlock(h) {
  if (blockCache.has(String(h))) return blockCache.get(String(h));
  const r = await api(`/blocks?from=${h}&limit=1`);
  if (!r.ok) throw new Error(`${r.status} ${r.text}`);
  const b = parse(r.text).get('blocks')[0];
  if (b) cache(b);
  return b;
}

// ---------- one block ----------

function txItem(tx) {
  if (!(tx instanceof Map)) return el('li', {}, el('code', { text: pyText(tx) }));
  const author = tx.get('author');
  const content = tx.get('content');
  const ts = tx.get('timestamp');
  const extra = [...tx.keys()].filter((k) => !['author', 'content', 'timestamp'].includes(k));
  return el('li', {},
    el('div', { class: 'tx-head' },
      el('strong', { class: 'author', text: typeof author === 'string' ? author : pyText(author) }),
      ts !== undefined ? el('time', { class: 'muted', text: typeof pyNum(ts) === 'number' ? when(pyNum(ts)) : pyText(ts) }) : null),
    el('p', { class: 'content', text: typeof content === 'string' ? content : pyText(content) }),
    ...extra.map((k) => el('p', { class: 'extra muted', text: `${k}: ${pyText(tx.get(k))}` })),
  );
}

let viewing = null;
async function showBlock(h) {
  viewing = h;
  $('blocks').hidden = true;
  const sec = $('block');
  sec.hidden = false;
  setText('block-h', `Block ${num(h)}`);
  for (const id of ['b-index', 'b-time', 'b-prevhash', 'b-nonce', 'b-hash', 'b-rehash', 'b-check']) setText(id, '');
  $('b-txs').replaceChildren();
  $('b-pre').replaceChildren();
  let b;
  try { b = await fetchBlock(h); } catch (e) { setText('b-check', `could not load: ${e.message}`); return; }
  if (viewing !== h) return;
  if (!b) { setText('b-check', `no block ${h}: the chain has ${num(st.length)} blocks`); return; }
  $('b-prev').hidden = h <= 0;
  $('b-prev').href = `#/block/${h - 1}`;
  $('b-next').hidden = h >= st.length - 1;
  $('b-next').href = `#/block/${h + 1}`;
  setText('b-index', pyText(b.get('index')));
  const t = pyNum(b.get('timestamp'));
  setText('b-time', `${pyText(b.get('timestamp'))}${typeof t === 'number' && Number.isFinite(t) ? ` (${when(t)})` : ''}`);
  setText('b-prevhash', String(b.get('previous_hash')));
  setText('b-nonce', pyText(b.get('nonce')));
  setText('b-hash', b.get('hash') ?? '');
  const txs = b.get('transactions') || [];
  setText('b-txs-h', `Transactions (${txs.length})`);
  $('b-txs').replaceChildren(...txs.map(txItem));
  const pre = blockPreimage(b);
  const [s, e] = pre.nonce || [pre.text.length, pre.text.length];
  $('b-pre').replaceChildren(pre.text.slice(0, s), el('mark', { text: pre.text.slice(s, e) }), pre.text.slice(e));
  const got = await sha256Hex(pre.text);
  if (viewing !== h) return;
  setText('b-rehash', got.hex);
  const ok = got.hex === b.get('hash');
  const check = $('b-check');
  check.textContent = ok ? `✓ matches (${got.by})` : `✗ differs from the stored hash (${got.by})`;
  check.className = ok ? 'ok' : 'bad';
}

function route() {
  const m = /^#\/block\/(\d+)$/.exec(location.hash);
  if (m) {
    showBlock(Number(m[1])).then(() => $('block').focus());
  } else if (viewing !== null) {
    viewing = null;
    $('block').hidden = true;
    $('blocks').hidden = false;
    if (location.hash === '#blocks') $('blocks').focus();
  }
}

// ---------- search ----------

function countBlocks(text) {
  try { return JSON.parse(text).blocks.length; } catch { return parse(text).get('blocks').length; }
}

let searchGen = 0;
async function search(q) {
  const my = ++searchGen;
  const msg = $('search-msg');
  msg.className = 'msg';
  q = q.trim().toLowerCase();
  if (/^\d+$/.test(q)) {
    const h = Number(q);
    if (h >= st.length) { msg.textContent = `No block ${num(h)}: the tip is ${num(st.length - 1)}.`; return; }
    msg.textContent = '';
    location.hash = `#/block/${h}`;
    return;
  }
  if (!/^[0-9a-f]{4,64}$/.test(q)) {
    msg.textContent = 'Type a height (a number) or a hash (4 to 64 hex digits).';
    return;
  }
  const match = (b) => typeof b.get('hash') === 'string' && b.get('hash').startsWith(q);
  for (const b of blockCache.values()) {
    if (match(b)) { msg.textContent = ''; location.hash = `#/block/${pyText(b.get('index'))}`; return; }
  }
  // Not cached: walk the chain back from the tip, 1000 blocks a request.
  let hi = st.length - 1;
  let seen = 0;
  while (hi >= 0) {
    if (my !== searchGen) return;
    const from = Math.max(0, hi - 999);
    msg.textContent = `Searching… ${num(seen)} of ${num(st.length)} blocks`;
    let found;
    for (let cur = from; cur <= hi && !found;) {
      const r = await api(`/blocks?from=${cur}&limit=${hi - cur + 1}`);
      if (!r.ok) { msg.textContent = `Search failed: ${r.status} ${r.text}`; return; }
      if (my !== searchGen) return;
      // Parse exactly only a page whose text holds the digits (hex is
      // never escaped); count the others' blocks with the faster
      // JSON.parse, which refuses only NaN and Infinity.
      const blocks = r.text.includes(q) ? parse(r.text).get('blocks') : null;
      const n = blocks ? blocks.length : countBlocks(r.text);
      if (!n) break;
      if (blocks) found = blocks.find(match);
      cur += n;
    }
    if (found) {
      cache(found);
      msg.textContent = '';
      location.hash = `#/block/${pyText(found.get('index'))}`;
      return;
    }
    seen += hi - from + 1;
    hi = from - 1;
  }
  if (my === searchGen) msg.textContent = `No block's hash starts with ${q} (${num(seen)} blocks searched).`;
}

// ---------- pool ----------

let poolLive = false; // the list holds only what came live (the pool is large)
let poolTimer = null;
function loadPoolSoon() {
  if (!poolTimer) poolTimer = setTimeout(() => { poolTimer = null; loadPool(); }, 150);
}

async function loadPool() {
  if (st.pending > POOL_FETCH_MAX) {
    poolLive = true;
    renderPoolCount();
    return;
  }
  const r = await api('/pending_tx');
  if (!r.ok) return;
  const txs = parse(r.text);
  poolLive = false;
  st.pending = txs.length;
  $('pending').replaceChildren(...txs.slice(-POOL_SHOW).map(txItem));
  renderPoolCount();
  renderStatus();
}

function renderPoolCount() {
  setText('pending-count', `(${num(st.pending)})`);
  const shown = $('pending').children.length;
  setText('pending-more', st.pending > shown ? `showing the ${num(shown)} ${poolLive ? 'received live' : 'newest'} of ${num(st.pending)}` : st.pending ? '' : 'nothing pending');
}

function onTx(ev) {
  let tx;
  try { tx = parse(ev.tx); } catch { return; }
  const list = $('pending');
  list.append(txItem(tx));
  while (list.children.length > POOL_SHOW) list.firstElementChild.remove();
  st.pending++;
  renderPoolCount();
  renderStatus();
}

async function postTx(e) {
  e.preventDefault();
  const msg = $('tx-msg');
  const btn = $('tx-post');
  btn.disabled = true;
  msg.className = 'msg';
  msg.textContent = 'Posting…';
  const r = await postJSON('/new_transaction', { author: $('tx-author').value, content: $('tx-content').value });
  btn.disabled = false;
  if (r.ok) {
    msg.textContent = 'Posted: the transaction is pending.';
    msg.className = 'msg ok';
    $('tx-content').value = '';
    if (!live.streaming()) loadPool();
  } else {
    msg.textContent = `Refused (${r.status}): ${r.text}`;
    msg.className = 'msg bad';
    msg.setAttribute('role', 'alert');
  }
}

// ---------- mining ----------

function expectedHashes() {
  const m = /^(\d+) (hex zeros|bits)$/.exec(st.difficulty);
  if (!m) return 0;
  return m[2] === 'bits' ? 2 ** Number(m[1]) : 16 ** Number(m[1]);
}

async function mine() {
  const btn = $('mine');
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  $('mine-box').hidden = false;
  const bar = $('mine-progress');
  bar.removeAttribute('value');
  const msg = $('mine-msg');
  msg.className = '';
  const t0 = performance.now();
  let hashes = 0;
  let last = t0;
  const exp = expectedHashes();
  const tick = setInterval(() => {
    const now = performance.now();
    const r = st.rates.length ? st.rates[st.rates.length - 1] : 0;
    hashes += (r * (now - last)) / 1000;
    last = now;
    if (exp) { bar.max = 1; bar.value = Math.min(0.97, hashes / exp); }
    msg.textContent = `Mining… ${((now - t0) / 1000).toFixed(1)} s · ${rate(r)}${exp ? ` · ~${num(Math.round(hashes))} of ~${num(exp)} expected hashes` : ''}`;
  }, 250);
  const r = await api('/mine'); // GET, as the reference front end asks
  clearInterval(tick);
  const secs = ((performance.now() - t0) / 1000).toFixed(2);
  bar.max = 1;
  bar.value = 1;
  btn.disabled = false;
  btn.removeAttribute('aria-busy');
  const mined = /^Block #(\d+) is mined/.exec(r.text);
  msg.replaceChildren();
  if (mined) {
    msg.append(`${r.text} (${secs} s) `, el('a', { href: `#/block/${mined[1]}`, text: 'View it' }));
    msg.className = 'ok';
  } else {
    msg.textContent = r.ok ? r.text : `Mining failed (${r.status}): ${r.text}`;
    msg.className = r.ok ? '' : 'bad';
  }
}

// ---------- peers and workers ----------

function renderPeers() {
  const list = $('peer-list');
  const shown = st.peerList.slice(0, 100);
  list.replaceChildren(...shown.map((p) => el('li', {}, el('code', { text: p }))));
  if (!st.peerList.length) list.append(el('li', { class: 'muted', text: 'no peers yet' }));
  else if (st.peers > shown.length) list.append(el('li', { class: 'muted', text: `and ${num(st.peers - shown.length)} more` }));
}

async function registerPeer(e) {
  e.preventDefault();
  const msg = $('peer-msg');
  msg.className = 'msg';
  msg.textContent = 'Registering…';
  const token = $('peer-token').value;
  const r = await postJSON('/register_with', { node_address: $('peer-url').value.trim() }, token ? { Authorization: `Bearer ${token}` } : {});
  msg.textContent = r.ok ? r.text : `Refused (${r.status}): ${r.text}`;
  msg.className = r.ok ? 'msg ok' : 'msg bad';
}

async function loadWorkers() {
  const r = await api('/workers');
  if (!r.ok) { $('workers').hidden = true; return false; }
  let ws;
  try { ws = JSON.parse(r.text); } catch { return false; }
  if (!Array.isArray(ws)) return false;
  $('workers').hidden = false;
  const now = Date.now() / 1000;
  $('worker-rows').replaceChildren(...ws.map((w) => {
    const seen = typeof w.last_seen === 'number' ? w.last_seen : Date.parse(w.last_seen) / 1000;
    return el('tr', {},
      el('td', { text: String(w.name ?? '') }), el('td', { text: String(w.kernel ?? '') }),
      el('td', { class: 'num', text: String(w.cores ?? '') }), el('td', { class: 'num', text: rate(Number(w.rate)) }),
      el('td', { text: Number.isFinite(seen) ? `${Math.max(0, Math.round(now - seen))} s ago` : String(w.last_seen ?? '') }));
  }));
  return true;
}

// ---------- the live stream ----------

const stateText = {
  connecting: 'connecting…', live: 'live', shared: 'live (shared with another tab)', 'shared-wait': 'joining the live stream…',
  reconnecting: 'reconnecting…', full: 'stream full: polling every 5 s', down: 'node unreachable: retrying', stale: 'no events: polling every 5 s',
};

let streaming = false;
const live = { streaming: () => streaming };

function onState(s) {
  streaming = s === 'live' || s === 'shared';
  const p = $('live');
  p.dataset.state = s;
  p.textContent = stateText[s] || s;
}

function onHello(h) {
  Object.assign(st, {
    length: h.length, tip: h.last_hash, difficulty: h.difficulty, hasher: h.hasher, workers: h.workers,
    cpu: h.cpu, pending: h.pending, peers: h.peers, peerList: h.peer_list || [], autoMine: h.auto_mine,
  });
  st.rates = (h.rates || []).slice(-600);
  renderStatus();
  renderPeers();
  if (viewing === null || pageTop === null) loadPage();
  loadPool();
}

function onEvent(name, d) {
  switch (name) {
    case 'hello': onHello(d); break;
    case 'health': {
      const grew = d.length !== st.length;
      Object.assign(st, { length: d.length, tip: d.last_hash, difficulty: d.difficulty, hasher: d.hasher, workers: d.workers, pending: d.pending, peers: d.peers });
      renderStatus();
      if (grew) { loadPage(); loadPool(); }
      break;
    }
    case 'status': {
      pushRate(d.rate);
      const pendingChanged = d.pending !== st.pending;
      Object.assign(st, { pending: d.pending, peers: d.peers, mining: d.mining });
      if (d.length > st.length) { st.length = d.length; st.tip = d.tip; if (pageTop === null) loadPage(); }
      renderStatus();
      if (pendingChanged && (d.tx_skipped || $('pending').children.length !== Math.min(st.pending, POOL_SHOW))) loadPoolSoon();
      else renderPoolCount();
      break;
    }
    case 'block': onBlock(d); if (d.txs) loadPoolSoon(); break;
    case 'chain': st.length = d.length; st.tip = d.tip; renderStatus(); loadPageSoon(); loadPoolSoon(); break;
    case 'tx': onTx(d); break;
    case 'peers':
      st.peerList = [...new Set([...st.peerList, ...(d.added || [])])].filter((p) => !(d.removed || []).includes(p)).sort();
      st.peers = d.peers;
      renderPeers();
      renderStatus();
      break;
    case 'sync': {
      const s = $('sync');
      if (d.state === 'start') s.textContent = `Syncing with ${d.peers} peer${d.peers === 1 ? '' : 's'}…`;
      else if (d.state === 'progress') {
        s.textContent = `Syncing: ${num(d.have)} of ${num(d.want)} blocks from ${d.peer}`;
        if (d.length > st.length) { st.length = d.length; renderStatus(); loadPageSoon(); }
      }
      else s.textContent = d.error ? `Sync failed: ${d.error}` : d.adopted ? `Synced: adopted a longer chain of ${num(d.length)} blocks` : '';
      break;
    }
    default:
  }
}

// ---------- start ----------

function start() {
  $('tx-form').addEventListener('submit', postTx);
  $('mine').addEventListener('click', mine);
  $('peer-form').addEventListener('submit', registerPeer);
  $('search').addEventListener('submit', (e) => { e.preventDefault(); search($('q').value); });
  $('newer').addEventListener('click', () => {
    pageTop = pageTop + PAGE >= st.length - 1 ? null : pageTop + PAGE;
    loadPage();
  });
  $('older').addEventListener('click', () => {
    pageTop = Math.max(PAGE - 1, (pageTop === null ? shownTop : pageTop) - PAGE);
    loadPage();
  });
  window.addEventListener('hashchange', route);
  connect(onEvent, onState);
  route();
  loadWorkers().then((ok) => { if (ok) setInterval(loadWorkers, 5000); });
}

start();
