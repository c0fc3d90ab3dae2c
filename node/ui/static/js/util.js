// Small helpers shared by the page's modules. Nothing here writes HTML:
// elements are made with createElement and filled with textContent.

export const $ = (id) => document.getElementById(id);

// el makes an element with attributes and children (strings become text
// nodes).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

export function setText(id, text) {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
}

const nf = new Intl.NumberFormat('en');
export const num = (x) => nf.format(x);

// rate formats hashes per second.
export function rate(h) {
  if (!Number.isFinite(h) || h <= 0) return '0 H/s';
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s'];
  let u = 0;
  while (h >= 1000 && u < units.length - 1) { h /= 1000; u++; }
  return `${h >= 100 ? h.toFixed(0) : h >= 10 ? h.toFixed(1) : h.toFixed(2)} ${units[u]}`;
}

// when formats seconds since the epoch as local date and time.
export function when(sec) {
  if (typeof sec !== 'number' || !Number.isFinite(sec)) return String(sec);
  const d = new Date(sec * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// ago formats a duration in seconds as "5 s ago".
export function ago(sec) {
  if (!Number.isFinite(sec)) return '';
  if (sec < 1) return 'just now';
  if (sec < 60) return `${Math.floor(sec)} s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
  return `${Math.floor(sec / 86400)} d ago`;
}

export const short = (h) => (h && h.length > 20 ? `${h.slice(0, 10)}…${h.slice(-8)}` : h || '');

// api calls the node and returns {ok, status, text}; a network failure
// is status 0 with the error as text.
export async function api(path, opts = {}) {
  try {
    const r = await fetch(path, { cache: 'no-store', ...opts });
    return { ok: r.ok, status: r.status, text: await r.text() };
  } catch (e) {
    return { ok: false, status: 0, text: `the node did not answer: ${e.message}` };
  }
}

// postJSON posts a JSON body.
export function postJSON(path, body, headers = {}) {
  return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
