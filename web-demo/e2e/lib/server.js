// Talking to the server under test (started by run.sh): its URL, tokens, and REST shortcuts.

import { createHmac } from 'node:crypto';

export const BASE = process.env.AGENTWIRE_URL || 'http://127.0.0.1:8000';
export const SECRET = process.env.E2E_JWT_SECRET || '';

/**
 * The user id a test signs in as. run.sh starts every run on an empty database, so plain names
 * are unique; each test file uses its own.
 */
export function userId(name) {
  return name;
}

/** An HS256 JWT for `sub`, signed with `secret` (the server's, unless a test wants a bad one). */
export function mintJwt(sub, { ttlSecs = 3600, secret = SECRET } = {}) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub, iat: now, exp: now + ttlSecs });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** A development token from the server itself, with a chosen lifetime. */
export async function devToken(user, ttlSecs) {
  const r = await fetch(`${BASE}/api/dev/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_id: user, ttl_secs: ttlSecs }),
  });
  if (!r.ok) throw new Error(`dev token: ${r.status}`);
  return r.json();
}

/** GET an API path as `user`; returns the JSON body (throws unless 2xx). */
export async function apiGet(user, path) {
  const r = await fetch(`${BASE}${path}`, {
    headers: { Authorization: `Bearer ${mintJwt(user)}` },
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * One REST turn as `user` (another device of theirs). A thread still answering (409
 * thread_busy) is retried for up to 15 s.
 */
export async function restChat(user, message, conversationId) {
  const body = { message };
  if (conversationId) body.conversation_id = conversationId;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await fetch(`${BASE}/api/${user}/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${mintJwt(user)}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (r.ok) return r.json();
    const text = await r.text();
    if (r.status !== 409 || Date.now() > deadline) throw new Error(`chat: ${r.status} ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
