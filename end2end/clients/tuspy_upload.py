"""tuspy (PyPI) uploading to Satchel's tus face through a link that drops.

Starts its own Satchel (the binary given as the first argument) on a free
port, behind a TCP proxy that is the server's public URL, so every request
tuspy makes, the upload URL's too, crosses the proxy. The proxy cuts the
first PATCH's connection once CUT_AT bytes of its body went through; tuspy
retries as it does on any network error (HEAD for the offset, PATCH from
there). Checks that the retry started exactly past the bytes the server
kept, and that the file Satchel reports has the local bytes' SHA-256.
Exits non-zero on any failure.
"""

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests
from tusclient import client

MIB = 1024 * 1024
SIZE = 6 * MIB + 4321
CHUNK = 2 * MIB
CUT_AT = MIB + 7


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DroppingProxy:
    """Forwards connections to the server; records each PATCH's
    Upload-Offset and drops the first PATCH after CUT_AT body bytes."""

    def __init__(self, listen_port, upstream_port):
        self.upstream_port = upstream_port
        self.patch_offsets = []
        self.dropped = False
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", listen_port))
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=self.pump, args=(upstream, conn), daemon=True).start()
        buffered = b""
        body_sent = None  # body bytes of a PATCH being dropped
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if body_sent is None:
                    buffered += data
                    head_end = buffered.find(b"\r\n\r\n")
                    if head_end >= 0:
                        head = buffered[:head_end].decode("latin-1")
                        first = head.split("\r\n", 1)[0]
                        if first.startswith("PATCH "):
                            offset = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
                                      if l.lower().startswith("upload-offset:")]
                            self.patch_offsets.append(int(offset[0]))
                            with self.lock:
                                drop = not self.dropped
                                self.dropped = True
                            if drop:
                                body = buffered[head_end + 4:]
                                upstream.sendall(buffered[:head_end + 4] + body[:CUT_AT])
                                body_sent = min(len(body), CUT_AT)
                                buffered = b""
                                if body_sent >= CUT_AT:
                                    break
                                continue
                        buffered = b""
                    upstream.sendall(data)
                    continue
                take = data[:CUT_AT - body_sent]
                upstream.sendall(take)
                body_sent += len(take)
                if body_sent >= CUT_AT:
                    break
        except OSError:
            pass
        if body_sent is not None:
            time.sleep(0.3)  # the bytes arrive, then the link drops
        for s in (conn, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass


def main():
    binary = os.path.abspath(sys.argv[1])
    data = bytes(((i * 31 + 5 + (i >> 13)) & 0xFF) for i in range(SIZE))
    with tempfile.TemporaryDirectory() as work:
        server_port, proxy_port = free_port(), free_port()
        public = f"http://127.0.0.1:{proxy_port}"
        common = ["--data-dir", work, "--database-url", f"sqlite://{work}/satchel.db"]
        env = dict(os.environ, RUST_LOG="warn")
        token = subprocess.run(
            [binary, "token", "create", "--scopes", "files", "--account", "tuspy", *common],
            check=True, capture_output=True, text=True, env=env,
        ).stdout.strip()
        server = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{server_port}", "--public-url", public, *common],
            env=env, stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    if requests.get(f"http://127.0.0.1:{server_port}/healthz", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            proxy = DroppingProxy(proxy_port, server_port)

            path = os.path.join(work, "tuspy.bin")
            with open(path, "wb") as f:
                f.write(data)
            tus = client.TusClient(f"{public}/tus", headers={"Authorization": f"Bearer {token}"})
            uploader = tus.uploader(path, chunk_size=CHUNK, retries=3, retry_delay=0.5,
                                    metadata={"filename": "tuspy.bin"})
            uploader.upload()

            offsets = proxy.patch_offsets
            assert len(offsets) >= 2, f"PATCH offsets {offsets}"
            assert offsets[1] == offsets[0] + CUT_AT, (
                f"the retry went from {offsets[1]}, not past the {CUT_AT} bytes kept: {offsets}")
            uuid = uploader.request.response_headers.get("satchel-file-uuid")
            assert uuid, f"the last answer names no file: {uploader.request.response_headers}"
            file = requests.get(f"{public}/v1.0/files/{uuid}",
                                headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            assert file["size"] == SIZE, file
            assert file["sha256"] == hashlib.sha256(data).hexdigest(), file
            print(f"tuspy: {SIZE} bytes, PATCH offsets {offsets}, sha256 {file['sha256']}: ok")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
