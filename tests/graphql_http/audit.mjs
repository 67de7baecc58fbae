// node audit.mjs URL [AUTHORIZATION]: runs graphql-http's serverAudits against URL and prints
// one JSON line per audit: {"id", "name", "status": "ok" | "warn" | "error", "reason"}.
import { serverAudits } from 'graphql-http';

const [url, authorization] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
};
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  console.log(JSON.stringify({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null }));
}
