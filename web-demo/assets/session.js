// Who is signed in, and how to get a token: a development token for a name
// (`POST /api/dev/token`), or a pasted JWT. The session is kept in localStorage so every tab of
// the browser is the same user, as the server's fan-out expects.

import { apiFetch, ApiError } from './api.js';

const KEY = 'agentwire.session';

/** The stored session ({mode, user_id, token, expires_at}) or null. */
export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (s && typeof s.token === 'string' && typeof s.user_id === 'string') return s;
  } catch {
    // A damaged entry is the same as none.
  }
  return null;
}

export function saveSession(session) {
  localStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(KEY);
}

/** Seconds left before the session's token expires (negative once expired). */
export function secondsLeft(session) {
  return (session.expires_at || 0) - Date.now() / 1000;
}

/** A development token for `userId`. Throws ApiError; `not_found` means dev sign-in is off. */
export async function devSignIn(userId) {
  const body = await apiFetch('/api/dev/token', { method: 'POST', body: { user_id: userId } });
  return {
    mode: 'dev',
    user_id: body.user_id,
    token: body.token,
    expires_at: Math.floor(Date.now() / 1000) + body.expires_in,
  };
}

/** The claims of a JWT, without verifying it (the server does that). */
function claimsOf(token) {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('that is not a JWT (it needs three dot-separated parts)');
  try {
    const json = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error('the token payload is not readable JSON');
  }
}

/** A session from a pasted JWT. Throws an Error with a readable message when it cannot work. */
export function tokenSignIn(raw) {
  const token = raw.trim().replace(/^Bearer\s+/i, '');
  const claims = claimsOf(token);
  const userId = claims.sub || claims.user_id;
  if (typeof userId !== 'string' || !userId) throw new Error('the token names no user (sub)');
  if (typeof claims.exp !== 'number') throw new Error('the token has no expiry (exp)');
  if (claims.exp <= Date.now() / 1000) throw new Error('the token has expired');
  return { mode: 'jwt', user_id: userId, token, expires_at: claims.exp };
}

/**
 * A new token for the same user when one can be had (development sessions), else null.
 * Saves the renewed session.
 */
export async function renewSession(session) {
  if (session.mode !== 'dev') return null;
  const renewed = await devSignIn(session.user_id);
  saveSession(renewed);
  return renewed;
}

/**
 * Wires the sign-in forms of a page. `onSession` gets the new session once one is made; form
 * errors are shown in `errorEl`.
 */
export function bindSignIn({ devForm, nameInput, jwtForm, jwtInput, errorEl }, onSession) {
  const fail = (message, input) => {
    errorEl.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  devForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    errorEl.textContent = '';
    nameInput.removeAttribute('aria-invalid');
    const name = nameInput.value.trim();
    if (!name) return fail('Enter a name.', nameInput);
    try {
      const session = await devSignIn(name);
      saveSession(session);
      onSession(session);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'not_found') {
        fail('This server does not hand out development tokens. Paste a token below.', jwtInput);
      } else {
        fail(`Sign-in failed: ${err.message}`, nameInput);
      }
    }
  });
  jwtForm.addEventListener('submit', (e) => {
    e.preventDefault();
    errorEl.textContent = '';
    jwtInput.removeAttribute('aria-invalid');
    try {
      const session = tokenSignIn(jwtInput.value);
      saveSession(session);
      jwtInput.value = '';
      onSession(session);
    } catch (err) {
      fail(`That token cannot be used: ${err.message}.`, jwtInput);
    }
  });
}

/**
 * The session to start with: the stored one, renewed if its development token has expired.
 * Returns {session, notice}; session is null when the user must sign in again.
 */
export async function resumeSession() {
  const stored = loadSession();
  if (!stored) return { session: null, notice: '' };
  if (secondsLeft(stored) > 5) return { session: stored, notice: '' };
  if (stored.mode === 'dev') {
    try {
      return { session: await renewSession(stored), notice: '' };
    } catch {
      // Fall through to signing in again.
    }
  }
  clearSession();
  return { session: null, notice: 'Your token expired. Sign in again.' };
}
