// api.js: the session (in sessionStorage, never in a URL) and calls to
// this node's API.
"use strict";

const SESSION = "dakkio.console.session";

// A session is {kind: "key"|"operator", secret, keyType: "admin"|"write"|"read",
// bucketId?, bucketName?}.
D.session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(SESSION)); } catch (e) { return null; }
  },
  set(s) { sessionStorage.setItem(SESSION, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(SESSION); },
};

// can says what the signed-in credential may do, from the key's type (the
// server enforces it; the console only hides what would be refused).
D.can = function (what) {
  const s = D.session.get();
  if (!s) return false;
  if (s.kind === "operator") return what === "operator";
  const t = s.keyType;
  switch (what) {
    case "admin": return t === "admin";
    case "write": return t === "admin" || t === "write";
    case "read": return true;
    case "webhooks": return t === "admin" && s.webhooks === true;
    default: return false;
  }
};

D.ApiError = class extends Error {
  constructor(status, body) {
    const msg = body && (body.message || body.error) ? body.message || body.error : "HTTP " + status;
    super(msg);
    this.status = status;
    this.body = body;
  }
  // detail joins the validation details, if any, into one line.
  get detail() {
    const d = this.body && this.body.details;
    if (!Array.isArray(d) || d.length === 0) return this.message;
    return this.message + ": " + d.map((x) => (x.path || []).slice(1).join(".") + " " + x.message).join("; ");
  }
};

// api calls the node with the session's credential and returns the parsed
// body; it throws D.ApiError on any non-2xx answer. On 401 the session is
// over: the user is sent back to sign in.
D.api = async function (method, path, body, cred) {
  const s = cred || D.session.get();
  const headers = {};
  if (s && s.kind === "operator") headers["X-Operator-Token"] = s.secret;
  else if (s) headers["X-API-Key"] = s.secret;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let parsed = null;
  const text = await resp.text();
  if (text) {
    try { parsed = JSON.parse(text); } catch (e) { parsed = { message: text.slice(0, 200) }; }
  }
  if (!resp.ok) {
    const err = new D.ApiError(resp.status, parsed);
    if (resp.status === 401 && !cred && D.session.get()) {
      // Once, though several calls in flight may be refused.
      D.session.clear();
      D.onSignedOut && D.onSignedOut("Your key or token was refused (401); sign in again.");
    }
    throw err;
  }
  return parsed;
};

// all fetches every page of a list endpoint (at most max items).
D.all = async function (path, max) {
  max = max || 5000;
  const out = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; out.length < max;) {
    const r = await D.api("GET", path + sep + "limit=1000&offset=" + offset);
    out.push(...r.data);
    if (!r.pagination || !r.pagination.hasMore || r.data.length === 0) break;
    offset += r.data.length;
  }
  return out;
};

// signIn checks a credential against the node and returns the session it
// makes, or throws with a message for the user.
D.signIn = async function (secret, bucketId, operator) {
  secret = secret.trim();
  if (!secret) throw new Error("Paste a key or the operator token.");
  if (operator) {
    const cred = { kind: "operator", secret };
    await D.api("GET", "/api/operator/orgs?limit=1", undefined, cred);
    return cred;
  }
  const types = { dakkio_a_: "admin", dakkio_w_: "write", dakkio_r_: "read" };
  const keyType = types[secret.slice(0, 9)];
  if (!keyType) throw new Error("That is not an API key: keys start with dakkio_a_, dakkio_w_ or dakkio_r_. For the operator pages, tick \u201coperator token\u201d.");
  const cred = { kind: "key", secret, keyType };
  if (keyType === "admin") {
    const o = await D.api("GET", "/api/analytics/overview", undefined, cred);
    cred.orgName = o.data.organization.name;
    // Webhooks are offered only where the node serves them.
    try {
      await D.api("GET", "/api/webhooks?limit=1", undefined, cred);
      cred.webhooks = true;
    } catch (e) {
      cred.webhooks = false;
    }
    return cred;
  }
  bucketId = (bucketId || "").trim();
  if (!/^[0-9a-f]{24}$/.test(bucketId)) throw new Error("A " + keyType + " key belongs to one bucket: give that bucket's id (24 hex characters).");
  cred.bucketId = bucketId;
  const a = await D.api("GET", "/api/analytics/buckets/" + bucketId + "?period=24h", undefined, cred);
  cred.bucketName = a.data.bucket.name;
  return cred;
};
