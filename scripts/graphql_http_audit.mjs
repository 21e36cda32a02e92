// Runs every audit of graphql-http's serverAudits (the GraphQL-over-HTTP spec's audit suite)
// against a running server, prints each result and the totals, and exits 1 on any warning
// or error (a MAY or SHOULD we fail is a warning; a MUST is an error).
//
//   node scripts/graphql_http_audit.mjs <node_modules parent dir> <graphql url>
//
// scripts/graphql-http-audit.sh installs the pinned package and starts the server.
import { createRequire } from 'node:module';
import path from 'node:path';

const [modulesParent, url] = process.argv.slice(2);
if (!modulesParent || !url) {
  console.error('usage: graphql_http_audit.mjs <dir holding node_modules> <graphql url>');
  process.exit(2);
}
// Resolved from the install directory, not from this file's (the repository has no
// node_modules).
const require = createRequire(path.join(path.resolve(modulesParent), 'package.json'));
const { serverAudits } = require('graphql-http');

const healthz = new URL('/healthz', url);
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    if ((await fetch(healthz)).ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() > deadline) {
    console.error(`no answer from ${healthz} within 60 s`);
    process.exit(2);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

const totals = { ok: 0, warn: 0, error: 0 };
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  totals[result.status] += 1;
  const line = `${result.status.padEnd(5)} ${audit.id} ${audit.name}`;
  if (result.status === 'ok') {
    console.log(line);
    continue;
  }
  let body = '';
  try {
    body = result.response ? (await result.response.text()).slice(0, 300) : '';
  } catch {
    // the body was already read by the audit
  }
  const status = result.response ? ` (HTTP ${result.response.status})` : '';
  console.log(`${line}\n      ${result.reason}${status}${body ? `\n      ${body}` : ''}`);
}
console.log(
  `graphql-http ${require('graphql-http/package.json').version} audits: ` +
    `${totals.ok} ok, ${totals.warn} warnings, ${totals.error} errors`,
);
process.exit(totals.warn || totals.error ? 1 : 0);
