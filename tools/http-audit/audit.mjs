// Audits a GraphQL endpoint against the GraphQL-over-HTTP specification with
// graphql-http's auditServer(): `node audit.mjs http://127.0.0.1:8000/graphql`.
// Prints every result and exits 1 on any error (a MUST) or warning (a SHOULD);
// notices (a MAY) are printed but do not fail the audit.

import { auditServer } from 'graphql-http';

const BODY_PREVIEW_CHARS = 500;

async function describe(response) {
  if (!response) return '(no response)';
  let body;
  try {
    body = await response.text();
  } catch (error) {
    // The audit may have read the body already; the status still tells a lot.
    body = `(body not readable: ${error.message})`;
  }
  if (body.length > BODY_PREVIEW_CHARS) body = `${body.slice(0, BODY_PREVIEW_CHARS)}…`;
  const contentType = response.headers.get('content-type') ?? '(none)';
  return `${response.status} ${contentType} ${body}`;
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: node audit.mjs <GraphQL endpoint URL>');
    return 2;
  }

  let results;
  try {
    results = await auditServer({ url });
  } catch (error) {
    // auditServer throws only on fatal problems, such as an unreachable server.
    console.error(`graphql-http audit: could not audit ${url}:`, error);
    return 1;
  }

  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const result of results) {
    counts[result.status] += 1;
    console.log(`${result.status.padEnd(6)} ${result.id} ${result.name}`);
    if (result.status !== 'ok') {
      console.log(`       reason: ${result.reason}`);
      console.log(`       response: ${await describe(result.response)}`);
    }
  }

  const notices = counts.notice ? `, ${counts.notice} notices` : '';
  console.log(
    `graphql-http audit: ${counts.ok} ok${notices}, ${counts.warn} warnings, ${counts.error} errors`,
  );
  return counts.warn || counts.error ? 1 : 0;
}

process.exitCode = await main();
