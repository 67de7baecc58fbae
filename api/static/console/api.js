// The console's only way to the data: the app's own GraphQL API, with the signed-in credential
// as `Authorization: Bearer …` (HTTP) and in the graphql-transport-ws connection_init payload.
import { createClient } from "graphql-ws";

const KEY = "rebate.console.credential";

export const credential = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {}

// A JWT (three base64url parts) is a merchant / member token; anything else is an API key.
export function who(value) {
  const parts = (value || "").split(".");
  if (parts.length === 3) {
    try {
      const claims = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
      return { role: claims.aud === "merchant" ? "MERCHANT" : "MEMBER", subject: claims.sub };
    } catch (_) {
      return { role: "UNKNOWN", subject: null };
    }
  }
  return { role: "STAFF", subject: null };
}

export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${credential.get() || ""}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError(`无法连接服务器 · The server cannot be reached (${e.message})`);
  }
  let body;
  try {
    body = await response.json();
  } catch (_) {
    throw new ApiError(`服务器错误 · Server error (HTTP ${response.status})`);
  }
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "));
  }
  if (!response.ok) throw new ApiError(`服务器错误 · Server error (HTTP ${response.status})`);
  return body.data;
}

let client = null;
const onConnected = new Set();

function wsClient() {
  if (client === null) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    client = createClient({
      url: `${scheme}//${location.host}/graphql`,
      connectionParams: () => ({ authorization: `Bearer ${credential.get() || ""}` }),
      lazy: true,
      retryAttempts: 5,
      on: { connected: () => onConnected.forEach((f) => f()) },  // the server acknowledged connection_init
    });
  }
  return client;
}

export function closeSubscriptions() {
  if (client !== null) {
    client.dispose();
    client = null;
  }
}

// Calls onData(data) for each event (and connected() once the socket is acknowledged); returns
// the function that ends the subscription.
export function subscribe(query, variables, { onData, onError, connected = () => {} }) {
  onConnected.add(connected);
  const stop = wsClient().subscribe(
    { query, variables },
    {
      next: (message) => (message.errors ? onError(new ApiError(message.errors.map((e) => e.message).join("; "))) : onData(message.data)),
      error: (e) => onError(new ApiError(e && e.message ? e.message : `订阅已断开 · Subscription closed (${(e && e.code) || "?"})`)),
      complete: () => {},
    },
  );
  return () => { onConnected.delete(connected); stop(); };
}

// CNY with 2 decimals from the API's decimal strings, without ever going through a float.
export function cny(value) {
  if (value === null || value === undefined) return "—";
  let text = String(value).trim();
  const negative = text.startsWith("-");
  if (negative) text = text.slice(1);
  let [whole, fraction = ""] = text.split(".");
  if (fraction.length > 2) {
    // the API sends money with 2 decimals; anything finer is cut off here for display only
    fraction = fraction.slice(0, 2);
  }
  fraction = fraction.padEnd(2, "0");
  whole = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}¥${whole}.${fraction}`;
}

export const MODELS = {
  queue_rebate: "排队返利 · Queue rebate",
  union_queue: "工会排队 · Union queue",
  order_dividend: "订单分红 · Order dividend",
  points_dividend: "积分分红 · Points dividend",
  appreciation: "消费增值 · Consumption appreciation",
  distribution: "分销 · Distribution",
};

export const modelName = (model) => MODELS[model] || model;

// An API DateTime (ISO 8601, UTC) as "YYYY-MM-DD HH:MM:SS UTC".
export function utc(value) {
  if (!value) return "—";
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? String(value) : `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
