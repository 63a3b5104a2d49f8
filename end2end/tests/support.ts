import { execFileSync } from 'node:child_process';
import { expect, APIRequestContext, Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
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

/**
 * A one-time sign-in link, made the way an operator makes one: `satchel login-link`
 * (with `--no-delete` when the session must not move files to the trash).
 */
export function loginLink(baseURL: string, options: { noDelete?: boolean; account?: string } = {}): string {
  const out = execFileSync(binary, [
    'login-link', '--public-url', baseURL, '--data-dir', dataDir, '--database-url', databaseUrl,
    '--account', options.account ?? 'default',
    ...(options.noDelete ? ['--no-delete'] : []),
  ], {
    env: { ...process.env, RUST_LOG: 'warn' },
    encoding: 'utf8',
  });
  return out.trim();
}

/** Uploads `text` as a file (or a new version of `fileUuid`) through the API. */
export async function upload(request: APIRequestContext, token: string, name: string, text: string, fileUuid?: string) {
  const opened = await request.post('/v1.0/sessions', {
    headers: { Authorization: `Bearer ${token}` },
    data: { file_name: name, file_size: Buffer.byteLength(text), ...(fileUuid ? { file_uuid: fileUuid } : {}) },
  });
  expect(opened.status()).toBe(200);
  const part = await request.post((await opened.json()).upload_url, { data: Buffer.from(text) });
  expect(part.status()).toBe(200);
  return part.json();
}

/** The serious and critical axe-core violations on the page, as `id: help` lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const scan = await new AxeBuilder({ page }).analyze();
  return scan.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}
