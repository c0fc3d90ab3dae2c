// JSON as CPython's json module reads and writes it, for hashing blocks in
// the browser exactly as the node does: json.dumps(value, sort_keys=True).
//
// JSON.parse cannot be used: it turns 12345678901234567890 into a rounded
// double and 1.0 into 1, and refuses NaN and Infinity. parse keeps every
// integer as its decimal text (PyInt), every float as a double (PyFloat),
// objects as Maps, and accepts NaN, Infinity and -Infinity as CPython does.

export class PyInt {
  constructor(text) { this.text = text; }
}

export class PyFloat {
  constructor(value) { this.value = value; }
}

export class ParseError extends Error {}

export function parse(text) {
  let i = 0;
  const n = text.length;
  const fail = (what) => { throw new ParseError(`${what} at character ${i}`); };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++; else break;
    }
  };
  const lit = (word, value) => {
    if (text.startsWith(word, i)) { i += word.length; return value; }
    return fail('unexpected token');
  };
  const str = () => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) { out += text.slice(start, i); i++; return out; }
      if (c < 0x20) fail('control character in string');
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      const e = text[i + 1];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const h = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(h, 16)); // lone surrogates kept, as CPython keeps them
          i += 4;
          break;
        }
        default: fail('bad escape');
      }
      i += 2;
      start = i;
    }
  };
  const numRe = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
  const num = () => {
    numRe.lastIndex = i;
    const m = numRe.exec(text);
    if (!m || m[0] === '-') {
      if (text.startsWith('-Infinity', i)) { i += 9; return new PyFloat(-Infinity); }
      return fail('unexpected token');
    }
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) return new PyInt(m[0]);
    return new PyFloat(Number(m[0]));
  };
  const value = (depth) => {
    if (depth > 1000) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = new Map();
      ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('want a key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("want ':'");
        i++;
        obj.set(k, value(depth + 1)); // a repeated key keeps its last value, as in CPython
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return obj; }
        fail("want ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return arr; }
        fail("want ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true', true);
    if (c === 'f') return lit('false', false);
    if (c === 'n') return lit('null', null);
    if (c === 'N') return lit('NaN', new PyFloat(NaN));
    if (c === 'I') return lit('Infinity', new PyFloat(Infinity));
    return num();
  };
  const v = value(0);
  ws();
  if (i !== n) fail('extra data');
  return v;
}

// floatRepr is CPython's repr(float): the shortest digits that read back
// as the same double, in fixed notation from 1e-4 up to 1e16 and in
// exponent notation (two exponent digits at least) outside it.
export function floatRepr(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expText] = x.toExponential().split('e'); // shortest round-trip digits
  const exp = parseInt(expText, 10);
  let sign = '';
  let m = mant;
  if (m[0] === '-') { sign = '-'; m = m.slice(1); }
  const digits = m.replace('.', '');
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? '.' + digits.slice(1) : '';
    return `${sign}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

// intRepr is CPython's str(int) of a JSON integer's text: only "-0"
// changes.
export function intRepr(text) {
  return /^-0+$/.test(text) ? '0' : text;
}

const shortEscapes = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

// quote is json.dumps of a str with ensure_ascii: every UTF-16 code unit
// outside ' '..'~' escaped as \uXXXX in lower-case hex (so a character
// beyond U+FFFF becomes its two surrogates, as CPython writes it).
export function quote(s) {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i);
    const ch = s[i];
    out += shortEscapes[ch] ?? '\\u' + c.toString(16).padStart(4, '0');
    start = i + 1;
  }
  return out + s.slice(start) + '"';
}

// compareCodePoints orders strings by code point, as Python sorts str
// (JavaScript's default sort compares UTF-16 code units, which differs
// for characters beyond U+FFFF against U+E000..U+FFFF).
export function compareCodePoints(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx - cy;
  }
}

// dumps is json.dumps(value, sort_keys=True) with CPython's defaults:
// separators ', ' and ': ', ensure_ascii, allow_nan. marks, when given,
// collects [start, end) offsets of the values of the keys it names at the
// top level (the block view highlights the nonce with it).
export function dumps(v, marks) {
  const parts = [];
  let len = 0;
  const put = (s) => { parts.push(s); len += s.length; };
  const walk = (x, top) => {
    if (x === null) put('null');
    else if (x === true) put('true');
    else if (x === false) put('false');
    else if (typeof x === 'string') put(quote(x));
    else if (x instanceof PyInt) put(intRepr(x.text));
    else if (x instanceof PyFloat) put(floatRepr(x.value));
    else if (typeof x === 'number') put(Number.isInteger(x) ? String(x) : floatRepr(x));
    else if (Array.isArray(x)) {
      put('[');
      x.forEach((e, k) => { if (k) put(', '); walk(e, false); });
      put(']');
    } else if (x instanceof Map) {
      const keys = [...x.keys()].sort(compareCodePoints);
      put('{');
      keys.forEach((k, idx) => {
        if (idx) put(', ');
        put(quote(k));
        put(': ');
        const start = len;
        walk(x.get(k), false);
        if (top && marks && k in marks) marks[k] = [start, len];
      });
      put('}');
    } else throw new TypeError(`cannot encode ${typeof x}`);
  };
  walk(v, true);
  return parts.join('');
}

// HASHED are the fields of a block its hash covers.
export const HASHED = ['index', 'transactions', 'timestamp', 'previous_hash', 'nonce'];

// blockPreimage returns the text a block's hash is the SHA-256 of, and
// where in it the nonce's value is.
export function blockPreimage(block) {
  const m = new Map();
  for (const k of HASHED) if (block.has(k)) m.set(k, block.get(k));
  const marks = { nonce: null };
  const text = dumps(m, marks);
  return { text, nonce: marks.nonce };
}
