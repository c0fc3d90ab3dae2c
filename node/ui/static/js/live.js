// The live stream, GET /events, shared by every tab of the page.
//
// A browser opens at most six HTTP/1.1 connections to one host, and an
// EventSource holds one for as long as it is open: with seven tabs each
// streaming, the seventh could not even load. So one tab, the leader,
// holds the stream, and the others get its events over a
// BroadcastChannel. The leader is whoever holds a Web Lock; when its tab
// closes, the lock passes to another tab, which opens the stream. Where
// Web Locks are missing (not a secure context) each tab streams alone.
//
// When the node refuses the stream (it has its maximum of subscribers) or
// the stream is silent too long, the tab polls /health every 5 s instead
// and tries the stream again later.

const EVENTS = ['hello', 'status', 'block', 'chain', 'tx', 'peers', 'sync'];
const RATE_HISTORY = 600;

export function connect(onEvent, onState) {
  const bc = typeof BroadcastChannel === 'function' ? new BroadcastChannel('powchain-events') : null;
  const shared = bc && navigator.locks && typeof navigator.locks.request === 'function';
  let leader = !shared;
  let hello = null; // the leader's picture of the state, kept current for new tabs
  let lastEvent = Date.now();
  let es = null;
  let pollTimer = null;
  let retryTimer = null;
  const me = Math.random().toString(36).slice(2); // this tab, for answers meant for it alone

  const state = (s, detail) => {
    onState(s, detail);
    if (leader && bc) bc.postMessage({ kind: 'state', state: s, detail });
  };

  const deliver = (name, data) => {
    lastEvent = Date.now();
    onEvent(name, data);
  };

  // track keeps hello current, so the leader can hand it to a new tab.
  const track = (name, data) => {
    if (name === 'hello') { hello = data; return; }
    if (!hello) return;
    if (name === 'status') {
      hello.rates.push(data.rate);
      if (hello.rates.length > RATE_HISTORY) hello.rates.splice(0, hello.rates.length - RATE_HISTORY);
      Object.assign(hello, { length: data.length, last_hash: data.tip, height: data.length - 1, pending: data.pending, peers: data.peers });
    } else if (name === 'block') {
      Object.assign(hello, { length: data.length, last_hash: data.hash, height: data.index });
    } else if (name === 'peers') {
      hello.peer_list = [...new Set([...(hello.peer_list || []), ...(data.added || [])])].filter((p) => !(data.removed || []).includes(p)).sort();
      hello.peers = data.peers;
    }
  };

  const stopPolling = () => { clearInterval(pollTimer); pollTimer = null; };
  const poll = async () => {
    try {
      const r = await fetch('/health', { cache: 'no-store' });
      if (r.ok) onEvent('health', await r.json());
    } catch { /* the node is down; the state line says so */ }
  };
  const startPolling = () => {
    if (pollTimer) return;
    poll();
    pollTimer = setInterval(poll, 5000);
  };

  const open = () => {
    clearTimeout(retryTimer);
    if (es) es.close();
    state('connecting');
    es = new EventSource('/events');
    let opened = false;
    es.onopen = () => { opened = true; };
    for (const name of EVENTS) {
      es.addEventListener(name, (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch { return; }
        track(name, data);
        deliver(name, data);
        if (bc) bc.postMessage({ kind: 'event', name, data });
        if (name === 'hello') { stopPolling(); state('live', data.subscribers); }
      });
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (503: the node has its maximum of streams) or not a
        // stream at all: poll, and try again in 30 s.
        state(opened ? 'down' : 'full');
        startPolling();
        retryTimer = setTimeout(open, 30000);
      } else {
        state('reconnecting'); // EventSource retries by itself
      }
    };
  };

  if (!shared) {
    open();
  } else {
    bc.onmessage = (m) => {
      const msg = m.data;
      if (msg.kind === 'need-hello') {
        if (leader && hello) {
          bc.postMessage({ kind: 'event', name: 'hello', data: hello, to: msg.from });
        }
      } else if (!leader && msg.kind === 'event' && (!msg.to || msg.to === me)) {
        track(msg.name, msg.data);
        deliver(msg.name, msg.data);
        if (msg.name === 'hello') { stopPolling(); onState('shared'); }
      } else if (!leader && msg.kind === 'state') {
        onState(msg.state === 'live' ? 'shared' : msg.state, msg.detail);
      }
    };
    // Wait for the lock; holding it (never resolving) makes this tab the
    // leader until it closes.
    navigator.locks.request('powchain-events-leader', () => new Promise(() => {
      leader = true;
      open();
    }));
    bc.postMessage({ kind: 'need-hello', from: me });
    onState('shared-wait');
  }

  // A page the browser keeps in its back-forward cache must not hold a
  // stream (and one of the node's places); it reopens when shown again.
  addEventListener('pagehide', () => { if (es) { es.close(); es = null; } });
  addEventListener('pageshow', (e) => { if (e.persisted && leader) open(); });

  // A follower whose leader went quiet (a frozen background tab), or any
  // tab whose stream stalled, polls until events flow again. The node
  // sends "status" every second.
  setInterval(() => {
    if (Date.now() - lastEvent > 6000) {
      if (!leader) onState('stale');
      startPolling();
      if (!leader && bc) bc.postMessage({ kind: 'need-hello', from: me });
    }
  }, 3000);

  return { isLeader: () => leader };
}
