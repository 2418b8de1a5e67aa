// The hub's REST API as the console calls it: the same routes as the CLI,
// authenticated by the sign-in cookie, every change with the CSRF token.

const API = '/api/v1';

// session is who is signed in: the user, their role and the CSRF token of
// the cookie session ('' when signed out). onUnauthorized is called when a
// request that needed the sign-in was refused.
export const session = { user: '', role: '', csrf: '', onUnauthorized: () => {} };

const RANK = { viewer: 1, helpdesk: 2, admin: 3 };

// can reports whether the signed-in role may do what needs role: the
// console leaves out what the hub would refuse (it checks every request).
export const can = (role) => (RANK[session.role] || 0) >= RANK[role];

export class APIError extends Error {
  constructor(status, msg, retryAfter) {
    super(msg);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// call sends one request to the REST API. Every state-changing request
// carries the CSRF token of the cookie session. A 401 outside the sign-in
// form means the session ended: back to the sign-in page.
export async function call(method, path, body) {
  const opts = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(API + path, opts);
  } catch (e) {
    throw new APIError(0, 'the hub does not answer (' + e.message + ')');
  }
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch (e) { data = null; }
  }
  if (!r.ok) {
    const msg = (data && data.error) || r.status + ' ' + r.statusText;
    const err = new APIError(r.status, msg, Number(r.headers.get('Retry-After')) || 0);
    if (r.status === 401 && path !== '/login' && session.user) session.onUnauthorized();
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;
export const sessionPath = (name) => '/sessions/' + enc(name);
