// The console's only way to the service: the public /v1 API, with the user's key (if the
// service wants one) as a Bearer header. The key lives in sessionStorage: it is gone when the
// tab closes and is never put in a URL.

const KEY = "rag.apiKey";
let sendKey = true; // false in no-auth local mode: nothing to send

export class ApiError extends Error {
  /** An error object from the API (`error.message`), or a network failure (status 0). */
  constructor(status, message, code = null, type = null, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.type = type;
    this.retryAfter = retryAfter; // seconds, from a 429's Retry-After
  }
}

export const storedKey = () => sessionStorage.getItem(KEY);
export const rememberKey = (key) => sessionStorage.setItem(KEY, key);
export const forgetKey = () => sessionStorage.removeItem(KEY);
export const useKey = (on) => {
  sendKey = on;
};

function headers(extra, key) {
  const out = new Headers(extra);
  const token = key ?? (sendKey ? storedKey() : null);
  if (token) out.set("Authorization", `Bearer ${token}`);
  return out;
}

/** The API's error object of a failed response, as an ApiError. */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's page): fall back to the status line
  }
  const error = body && typeof body === "object" ? body.error : null;
  const message = error?.message || `${response.status} ${response.statusText}`.trim();
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  return new ApiError(
    response.status,
    message,
    error?.code ?? null,
    error?.type ?? null,
    retryAfter,
  );
}

/**
 * A fetch of `/v1{path}`: returns the Response when it is ok, else throws its ApiError.
 * `json` becomes the body; `key` overrides the stored key (signing in); 401 tells the page.
 */
export async function request(method, path, { json, body, signal, key, accept } = {}) {
  const extra = {};
  if (json !== undefined) extra["Content-Type"] = "application/json";
  if (accept) extra.Accept = accept;
  let response;
  try {
    response = await fetch(`/v1${path}`, {
      method,
      headers: headers(extra, key),
      body: json !== undefined ? JSON.stringify(json) : body,
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `the service cannot be reached (${err.message})`);
  }
  if (response.ok) return response;
  const error = await errorOf(response);
  if (response.status === 401 && key === undefined) {
    document.dispatchEvent(new CustomEvent("rag:unauthorized", { detail: error }));
  }
  throw error;
}

/** `request`, then the JSON body (null for 204). */
export async function call(method, path, options) {
  const response = await request(method, path, options);
  return response.status === 204 ? null : response.json();
}

/** `/v1/kbs/{kb}` and below, with the name escaped. */
export const kbPath = (kb, rest = "") => `/kbs/${encodeURIComponent(kb)}${rest}`;
