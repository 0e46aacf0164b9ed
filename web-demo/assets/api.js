// HTTP helpers shared by both pages: JSON requests with a bearer token, and the server's
// `{"error":{"code","message"}}` shape turned into an ApiError.

/** An error answer of the API (or a network failure, with status 0 and code "network"). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Turns a non-2xx response into an ApiError with the server's code and message. */
export async function errorOf(response) {
  let code = 'http_' + response.status;
  let message = response.statusText || 'request failed';
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not our JSON shape (a proxy's page, say): keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** Sends a request and returns the parsed JSON body; throws ApiError on any failure. */
export async function apiFetch(path, { token, method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'the server could not be reached');
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** Every task of the user, following the listing's pages. */
export async function fetchAllTasks(userId, token) {
  const tasks = [];
  let after = null;
  for (let page = 0; page < 50; page++) {
    const query = new URLSearchParams({ status: 'all', limit: '100' });
    if (after) query.set('after', after);
    const body = await apiFetch(`/api/${encodeURIComponent(userId)}/tasks?${query}`, { token });
    tasks.push(...body.data);
    if (!body.has_more || !body.after) break;
    after = body.after;
  }
  return tasks;
}
