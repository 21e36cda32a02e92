// The one way the pages talk to bookrec: POST /graphql, the public API, nothing private.
// The token of `register`/`login` is kept in localStorage and sent as
// `Authorization: Bearer <token>`; errors become ApiError with words a reader understands.

const TOKEN_KEY = "bookrec.token";

export class ApiError extends Error {
  constructor(message, code, errors = []) {
    super(message);
    this.code = code;
    this.errors = errors;
  }

  // A GraphQL validation error: this server's schema lacks something the page asked for
  // (a feature not deployed on it), as opposed to a refusal or a failure.
  get isMissingFromSchema() {
    return this.code === "GRAPHQL_VALIDATION_FAILED";
  }
}

const PLAIN_WORDS = {
  UNAUTHENTICATED: "Please sign in first.",
  FORBIDDEN: "This is for staff accounts only.",
  TOO_MANY_REQUESTS: "Too many attempts. Wait a minute, then try again.",
  INTERNAL_SERVER_ERROR: "Something went wrong on the server. Try again in a moment.",
  PAYLOAD_TOO_LARGE: "That is too much text to send at once.",
};

// The server's messages for expected failures are written for people ("Unknown username
// or wrong password."); codes without a useful message get a sentence of our own.
function plainMessage(error) {
  const code = error.extensions?.code;
  if (code === "INTERNAL_SERVER_ERROR") return PLAIN_WORDS[code];
  if (code === "GRAPHQL_VALIDATION_FAILED") return "This server does not offer that yet.";
  return error.message || PLAIN_WORDS[code] || "The request failed.";
}

export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

export async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("Cannot reach the bookrec server. Check your connection.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without data.`, "HTTP");
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    const code = first.extensions?.code || "ERROR";
    if (code === "UNAUTHENTICATED" && current && /sign in again/i.test(first.message)) {
      setToken(null); // a stale token: forget it, the page offers sign-in again
    }
    throw new ApiError(plainMessage(first), code, body.errors);
  }
  return body.data;
}
