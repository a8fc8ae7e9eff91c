// Talking to the JSON API. The bearer token lives in sessionStorage (gone when the tab closes)
// and travels only in the Authorization header, never in a URL.

const KEY = 'hookrelay.session';

/** The signed-in session: `{token, role: 'admin'|'license', licenseId}` or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function saveSession(s) {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** An error answer of the API (or a network failure), with a message for people. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the API. Resolves to the parsed JSON body (null for 204); rejects with ApiError.
 * `token` overrides the session's (used while signing in).
 */
export async function call(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  const bearer = token || (session() || {}).token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached. Is hookrelay running?');
  }
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!response.ok) {
    const err = (json && json.error) || {};
    const message = err.message || `The server answered ${response.status}.`;
    throw new ApiError(response.status, err.code || 'http', message);
  }
  return json;
}

/** The path prefix of the signed-in license's resources. */
export function licensePath(rest = '') {
  const s = session();
  return `/v1/licenses/${encodeURIComponent(s.licenseId)}${rest}`;
}

let matrixPromise = null;

/** Which data types each event type may carry, as the server enforces it. */
export function supportMatrix() {
  if (!matrixPromise) {
    matrixPromise = call('GET', '/console/support-matrix.json').catch((e) => {
      matrixPromise = null;
      throw e;
    });
  }
  return matrixPromise;
}

/**
 * Reads a Server-Sent Events stream of the API (the live tail) with fetch, so that the bearer
 * token goes in the Authorization header like every other call; EventSource cannot send one,
 * and a token in the URL would end up in logs and history. Calls `onEvent(name, data)` for each
 * event (comments are skipped) until the stream ends or `signal` aborts; resolves then. Rejects
 * with ApiError when the server refuses the stream.
 */
export async function stream(path, onEvent, signal, lastEventId) {
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${(session() || {}).token}` };
  // Taking a stream up again: the server resumes after the last event seen (SSE's own header).
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  let response;
  try {
    response = await fetch(path, { headers, signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, 'network', 'The server could not be reached. Is hookrelay running?');
  }
  if (!response.ok) {
    let err = {};
    try {
      err = (await response.json()).error || {};
    } catch {
      err = {};
    }
    throw new ApiError(response.status, err.code || 'http', err.message || `The server answered ${response.status}.`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = 'message';
        let data = '';
        let id = null;
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
          else if (line.startsWith('id:')) id = line.slice(3).trim();
        }
        if (data) onEvent(name, JSON.parse(data), id);
      }
    }
  } catch (e) {
    if (signal && signal.aborted) return;
    throw new ApiError(0, 'network', 'The live tail was cut off.');
  }
}
