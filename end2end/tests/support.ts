import { execFileSync } from 'node:child_process';
import { binary, dataDir, databaseUrl } from '../playwright.config';

/** A token made the way an operator makes one: `satchel token create`. */
export function createToken(scopes: string, account = 'default'): string {
  const out = execFileSync(binary, [
    'token', 'create', '--scopes', scopes, '--account', account,
    '--data-dir', dataDir, '--database-url', databaseUrl,
  ], {
    env: { ...process.env, RUST_LOG: 'warn' },
    encoding: 'utf8',
  });
  const lines = out.split('\n').filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`token create printed ${lines.length} lines`);
  return lines[0];
}

/** A one-time sign-in link, made the way an operator makes one: `satchel login-link`. */
export function loginLink(baseURL: string): string {
  const out = execFileSync(binary, [
    'login-link', '--public-url', baseURL, '--data-dir', dataDir, '--database-url', databaseUrl,
  ], {
    env: { ...process.env, RUST_LOG: 'warn' },
    encoding: 'utf8',
  });
  return out.trim();
}
