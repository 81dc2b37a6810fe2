// The orchestrator's HTTP API as the page uses it: the session cookie identifies the
// user, and every request that changes something carries the session's CSRF token.

let session = null;
let signedOut = () => {};

export function setSession(value) {
  session = value;
}

export function currentSession() {
  return session;
}

/** Whether the signed-in key may submit, cancel, deploy and trigger. */
export function canOperate() {
  return session !== null && (session.role === "operator" || session.role === "admin");
}

export function onSignedOut(callback) {
  signedOut = callback;
}

export class ApiError extends Error {
  constructor(status, body, fallback) {
    super((body && body.error) || fallback);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API; the parsed JSON answer, or an `ApiError`. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    if (response.status === 401 && session && !path.startsWith("/ui/session")) {
      session = null;
      signedOut();
    }
    throw new ApiError(response.status, parsed, `${response.status} ${response.statusText}`);
  }
  return parsed;
}

/** Asks whether the session still holds; an ended one shows the sign-in form. */
export async function checkSession() {
  try {
    await api("GET", "/ui/session");
  } catch (error) {
    if (error.status === 401 && session) {
      session = null;
      signedOut();
    }
  }
}

/**
 * Follows `/api/events`: calls `onChange(kind, data)` for `run`, `executors` and
 * `lagged`; returns a function that stops following.
 */
export function followChanges(onChange) {
  const source = new EventSource("/api/events");
  // The browser reconnects by itself, except after a refusal (a session that ended).
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) checkSession();
  });
  for (const kind of ["run", "executors", "lagged"]) {
    source.addEventListener(kind, (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data);
      } catch {
        data = {};
      }
      onChange(kind, data);
    });
  }
  // After a reconnect, what happened in between is unknown: read everything again.
  source.addEventListener("open", () => onChange("lagged", {}));
  return () => source.close();
}

/**
 * Calls `fn` once, `ms` after the first of a burst of calls: at most once per `ms`
 * however busy it gets, and always after the last call.
 */
export function throttle(fn, ms) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
