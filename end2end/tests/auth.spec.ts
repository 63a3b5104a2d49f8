import { test, expect } from '@playwright/test';
import { createToken } from './support';

test('a protected endpoint answers 401, 403 or 200 as the contract says', async ({ request }) => {
  const anonymous = await request.post('/api/v4/files/issue_token');
  expect(anonymous.status()).toBe(401);
  expect(anonymous.headers()['content-type']).toBe('application/problem+json');
  expect((await anonymous.json()).type).toBe('unauthorized');

  const filesOnly = createToken('files');
  const forbidden = await request.post('/api/v4/files/issue_token', {
    headers: { Authorization: `Bearer ${filesOnly}` },
  });
  expect(forbidden.status()).toBe(403);
  const problem = await forbidden.json();
  expect(problem.type).toBe('forbidden');
  expect(problem.detail).toContain('crm');

  const crm = createToken('files,files_delete,crm');
  const issued = await request.post('/api/v4/files/issue_token', {
    headers: { Authorization: `Bearer ${crm}` },
  });
  expect(issued.status()).toBe(200);
  const body = await issued.json();
  expect(body.token).toMatch(/^sat_/);
  expect(body.expires_at).toBeGreaterThan(Date.now() / 1000 + 3500);

  // The widget token it hands out is limited to `files`.
  const again = await request.post('/api/v4/files/issue_token', {
    headers: { Authorization: `Bearer ${body.token}` },
  });
  expect(again.status()).toBe(403);
});
