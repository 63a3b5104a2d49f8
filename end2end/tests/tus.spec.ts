import { createHash } from 'node:crypto';
import { test, expect } from '@playwright/test';
import { Upload, DefaultHttpStack, HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import type { ClientRequest } from 'node:http';
import { Readable } from 'node:stream';
import { createToken } from './support';

// tus-js-client (npm, Node) uploading to Satchel's tus face (and the IETF
// draft on the same uploads): the link
// drops mid-body and the client resumes, and the file Satchel keeps has the local
// bytes' SHA-256.

const MiB = 1024 * 1024;

function bytes(len: number, seed: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = (i * 31 + seed + (i >> 13)) & 0xff;
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Run {
  fileUuid: string;
  /** URL and `Upload-Offset` of every PATCH sent, in order. */
  patches: { url: string; offset: number }[];
}

/**
 * tus-js-client's own HTTP stack, except that the first PATCH carries only
 * its first `cutAt` bytes and then its connection is destroyed: a link
 * that drops mid-body. tus-js-client then retries as it does on any
 * network error: HEAD for the offset, PATCH from there.
 */
class DroppingStack implements HttpStack {
  private inner = new DefaultHttpStack({});
  private dropped = false;

  constructor(private cutAt: number) {}

  createRequest(method: string, url: string): HttpRequest {
    const request = this.inner.createRequest(method, url);
    if (method !== 'PATCH' || this.dropped) return request;
    this.dropped = true;
    const send = request.send.bind(request);
    request.send = (body?: unknown) => {
      const bytes = body as Buffer;
      if (bytes.length <= this.cutAt) throw new Error(`a PATCH of ${bytes.length} bytes cannot be cut at ${this.cutAt}`);
      const partial = new Readable({ read() {} });
      partial.push(bytes.subarray(0, this.cutAt));
      const answer = send(partial as never);
      // Time for the bytes to arrive, then the link drops.
      setTimeout(() => (request.getUnderlyingObject() as ClientRequest).destroy(new Error('link dropped')), 300);
      return answer;
    };
    return request;
  }

  getName() {
    return 'DroppingStack';
  }
}

/** Uploads `data` with tus-js-client through a link that drops once. */
function tusUpload(endpoint: string, token: string, data: Buffer, name: string,
  options: Record<string, unknown>, cutAt: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const patches: { url: string; offset: number }[] = [];
    const upload = new Upload(data, {
      endpoint,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { filename: name, filetype: 'application/octet-stream' },
      retryDelays: [100, 500, 1000],
      httpStack: new DroppingStack(cutAt),
      ...options,
      onBeforeRequest: (req: HttpRequest) => {
        if (req.getMethod() === 'PATCH') patches.push({ url: req.getURL(), offset: Number(req.getHeader('Upload-Offset')) });
      },
      onError: reject,
      onSuccess: (payload: { lastResponse: HttpResponse }) => {
        const fileUuid = payload.lastResponse.getHeader('Satchel-File-Uuid');
        if (!fileUuid) reject(new Error('the last answer names no file'));
        else resolve({ fileUuid, patches });
      },
    });
    upload.start();
  });
}

test.describe('tus-js-client', () => {
  let token: string;
  test.beforeAll(() => {
    token = createToken('files', 'tus');
  });

  const cases: { name: string; options: Record<string, unknown>; cutAt: number }[] = [
    { name: 'plain, the whole file in one PATCH', options: {}, cutAt: 3 * MiB + 12345 },
    {
      name: 'in 1 MiB chunks, data sent with the creation',
      options: { chunkSize: MiB, uploadDataDuringCreation: true },
      cutAt: 600 * 1024 + 7,
    },
    {
      name: 'the length named at the end (uploadLengthDeferred), 2 MiB chunks',
      options: { uploadLengthDeferred: true, chunkSize: 2 * MiB },
      cutAt: MiB + 5,
    },
    {
      name: 'four parallel partial uploads concatenated (parallelUploads: 4)',
      options: { parallelUploads: 4 },
      cutAt: 700 * 1024 + 3,
    },
    {
      name: "the IETF draft-05 (interop version 6), tus-js-client's protocol: 'ietf-draft-05'",
      options: { protocol: 'ietf-draft-05' },
      cutAt: 2 * MiB + 99,
    },
  ];
  for (const { name, options, cutAt } of cases) {
    test(`${name}: link dropped mid-body, resumed past every kept byte, same SHA-256`, async ({ request, baseURL }) => {
      const data = bytes(6 * MiB + 12345, name.length);
      const run = await tusUpload(`${baseURL}/tus`, token, data, 'tus.bin', options, cutAt);
      // The dropped PATCH was sent again from where the server stood: past
      // every byte of the cut body, which the server kept.
      // (With parallel uploads, the next PATCH to the same upload.)
      const [dropped] = run.patches;
      const resumed = run.patches.slice(1).find((p) => p.url === dropped.url);
      expect(resumed?.offset).toBe(dropped.offset + cutAt);
      const file = await request.get(`/v1.0/files/${run.fileUuid}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(file.status()).toBe(200);
      const body = await file.json();
      expect(body.size).toBe(data.length);
      expect(body.sha256).toBe(sha256(data));
      expect(body.name).toBe('tus');
    });
  }
});
