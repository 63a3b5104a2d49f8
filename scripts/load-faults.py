#!/usr/bin/env python3
"""Load with faults: many concurrent uploads of mixed sizes from several
client processes, a share of the part requests cut midway, the server
SIGKILLed and restarted twice, and (on PostgreSQL) the database restarted
once. Every upload must finish after its client resumes, with the
SHA-256 it was sent with, and no part the server acknowledged may go
missing from a later resume point. Prints totals, part latencies and the
server's peak RSS; exits non-zero on any loss or mismatch.

    target/py-clients/bin/python scripts/load-faults.py [--backend sqlite|postgres-s3]
        [--binary target/release/satchel] [--uploads 500] [--clients 4]

Clients speak the Kommo part chain with Satchel's window (`?part=k`), and
resume from `GET {upload_url}` after any failure.
"""

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import aiohttp

KIB = 1024
MIB = 1024 * KIB
# Sizes and how often each comes: mostly small files, some large ones.
SIZES = [(0, 1), (700, 3), (40 * KIB, 4), (300 * KIB, 4), (MIB + 17, 3), (3 * MIB + 5, 2), (9 * MIB, 1)]
PART = 512 * KIB


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `satchel serve` process, started again on the same port after a kill."""

    def __init__(self, binary, data, port, env):
        self.binary, self.data, self.port, self.env = binary, data, port, env
        self.proc = None
        self.peak_rss_kib = 0

    def start(self):
        args = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data,
                "--max-part-size", str(PART), "--session-ttl", "1h"]
        log = open(os.path.join(self.data, "..", "server.log"), "ab")
        self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            if time.time() > deadline:
                raise SystemExit("satchel did not start; see server.log")
            time.sleep(0.05)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def sample_rss(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))
        except OSError:
            pass


def payload(seed, size):
    return random.Random(seed).randbytes(size)


class Stats:
    def __init__(self):
        self.latencies = []
        self.parts_sent = 0
        self.cuts = 0
        self.retries = 0
        self.lost = []
        self.mismatched = []
        self.failed = []
        self.done = 0
        self.bytes = 0


async def call(session, method, url, stats, **kw):
    """One request, retried through restarts and refusals to wait; the
    status and JSON body of an answer that is not a wait."""
    delay = 0.1
    for _ in range(200):
        try:
            async with session.request(method, url, **kw) as r:
                body = await r.read()
                if r.status in (429, 502, 503) or r.status >= 500:
                    stats.retries += 1
                    await asyncio.sleep(float(r.headers.get("Retry-After", delay)))
                    delay = min(delay * 2, 2)
                    continue
                return r.status, (json.loads(body) if body else None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
            stats.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2)
    raise RuntimeError(f"{method} {url}: no answer after 200 tries")


async def send_part(session, url, chunk, rng, cut_rate, stats):
    """Sends one part; with probability `cut_rate` the connection is cut
    halfway through the body. The answer's status and body, or None."""
    stats.parts_sent += 1
    headers = {"Content-Length": str(len(chunk)), "Content-Type": "application/octet-stream"}
    if len(chunk) > 1 and rng.random() < cut_rate:
        stats.cuts += 1

        async def halfway():
            yield chunk[: len(chunk) // 2]
            await asyncio.sleep(0.01)
            raise ConnectionResetError("cut on purpose")

        try:
            async with session.post(url, data=halfway(), headers=headers) as r:
                await r.read()
        except Exception:
            pass
        return None
    started = time.perf_counter()
    try:
        async with session.post(url, data=chunk, headers=headers) as r:
            body = await r.read()
            if r.status in (200, 202):
                stats.latencies.append(time.perf_counter() - started)
            return r.status, (json.loads(body) if body else None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
        return None


def holds(ranges, start, end):
    return start == end or any(s <= start and end <= e for s, e in ranges)


async def upload(session, base, token, seed, size, cut_rate, stats):
    data = payload(seed, size)
    digest = hashlib.sha256(data).hexdigest()
    rng = random.Random(seed ^ 0x5A5A)
    auth = {"Authorization": f"Bearer {token}"}
    status, opened = await call(session, "POST", f"{base}/v1.0/sessions", stats, headers=auth,
                                json={"file_name": f"load-{seed}.bin", "file_size": size, "sha256": digest})
    if status != 200:
        stats.failed.append((seed, f"open: {status} {opened}"))
        return
    upload_url = opened["upload_url"].replace(opened["upload_url"].split("/upload/")[0], base)
    part = opened["max_part_size"]
    window = max(1, min(opened.get("window", 1), 3))
    count = max(1, -(-size // part))
    acked = []
    file_uuid = None
    for _ in range(400):
        status, point = await call(session, "GET", upload_url, stats)
        if status != 200:
            stats.failed.append((seed, f"resume point: {status} {point}"))
            return
        if point["status"] == "completed":
            file_uuid = point["file_uuid"]
            break
        if point["status"] != "uploading":
            stats.failed.append((seed, f"session {point['status']}"))
            return
        ranges = [tuple(r) for r in point["ranges"]]
        for start, end in acked:
            if not holds(ranges, start, end):
                stats.lost.append((seed, start, end, ranges))
        missing = [k for k in range(count) if not holds(ranges, k * part, min(size, (k + 1) * part))]
        if size == 0:
            missing = [0]
        # The part that a cut left half-stored goes from the resume point's URL.
        received = point["received"]
        todo = []
        if received % part and received < size:
            k = received // part
            end = min(size, (k + 1) * part)
            todo.append((point["next_url"].replace(point["next_url"].split("/upload/")[0], base),
                         received, end))
            missing = [m for m in missing if m != k]
        todo += [(f"{upload_url}?part={k + 1}", k * part, min(size, (k + 1) * part)) for k in missing]
        for i in range(0, len(todo), window):
            batch = todo[i:i + window]
            answers = await asyncio.gather(*[send_part(session, url, data[s:e], rng, cut_rate, stats)
                                             for url, s, e in batch])
            for (url, s, e), answer in zip(batch, answers):
                if answer is None:
                    continue
                code, body = answer
                if code == 202:
                    acked.append((s, e))
                elif code == 200:
                    acked.append((s, e))
                    file_uuid = body["uuid"]
            if file_uuid:
                break
        if file_uuid:
            break
    if not file_uuid:
        stats.failed.append((seed, "never completed"))
        return
    status, file = await call(session, "GET", f"{base}/v1.0/files/{file_uuid}", stats, headers=auth)
    if status != 200 or file["sha256"] != digest or file["size"] != size:
        stats.mismatched.append((seed, status, file and file.get("sha256"), digest))
        return
    stats.done += 1
    stats.bytes += size


def client_main(index, base, token, jobs, cut_rate, out):
    async def run():
        stats = Stats()
        timeout = aiohttp.ClientTimeout(total=120)
        connector = aiohttp.TCPConnector(limit=64, force_close=False)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await asyncio.gather(*[upload(session, base, token, seed, size, cut_rate, stats)
                                   for seed, size in jobs])
        with open(out, "w") as f:
            json.dump(stats.__dict__, f)

    asyncio.run(run())


def restart_postgres():
    for command in (["pg_ctlcluster", "15", "main", "restart"], ["service", "postgresql", "restart"]):
        if shutil.which(command[0]) and subprocess.run(command).returncode == 0:
            return True
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/release/satchel")
    parser.add_argument("--backend", choices=["sqlite", "postgres-s3"], default="sqlite")
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--cut-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first-fault", type=float, default=3.0,
                        help="seconds until the first kill; the database restarts at 1.75x, the second kill at 2.5x")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="satchel-load-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    env = {**os.environ, "RUST_LOG": "warn"}
    env.pop("DATABASE_URL", None)
    s3 = None
    database = None
    admin = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if args.backend == "postgres-s3":
        database = f"satchel_load_{os.getpid()}"
        subprocess.run(["psql", "-q", "-X", "-d", admin, "-c", f"create database {database}"], check=True)
        env["DATABASE_URL"] = admin.rsplit("/", 1)[0] + "/" + database
        s3_port = free_port()
        os.makedirs(os.path.join(work, "s3", "load"))
        s3 = subprocess.Popen(["s3s-fs", "--host", "127.0.0.1", "--port", str(s3_port), "--access-key", "load",
                               "--secret-key", "load-secret", os.path.join(work, "s3")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env.update({"SATCHEL_STORAGE_URL": "s3://load/satchel", "AWS_ENDPOINT": f"http://127.0.0.1:{s3_port}",
                    "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "load", "AWS_SECRET_ACCESS_KEY": "load-secret",
                    "AWS_REGION": "us-east-1"})
        time.sleep(0.5)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tokens = []
    for i in range(args.clients):
        out = subprocess.run([binary, "token", "create", "--scopes", "files", "--account", f"load-{i}",
                              "--data-dir", data], env=env, capture_output=True, text=True, check=True)
        tokens.append(out.stdout.strip())
    server = Server(binary, data, port, env)
    server.start()

    rng = random.Random(args.seed)
    sizes, weights = zip(*SIZES)
    jobs = [(args.seed * 1_000_003 + i, rng.choices(sizes, weights)[0]) for i in range(args.uploads)]
    outs = [os.path.join(work, f"client-{i}.json") for i in range(args.clients)]
    clients = [multiprocessing.Process(target=client_main,
                                       args=(i, base, tokens[i], jobs[i::args.clients], args.cut_rate, outs[i]))
               for i in range(args.clients)]
    started = time.time()
    for c in clients:
        c.start()
    # Faults at fixed moments: two kills of the server, one database restart.
    faults = [(args.first_fault, "kill"), (args.first_fault * 1.75, "postgres"),
              (args.first_fault * 2.5, "kill")]
    events = []
    while any(c.is_alive() for c in clients):
        server.sample_rss()
        elapsed = time.time() - started
        if faults and elapsed >= faults[0][0]:
            _, fault = faults.pop(0)
            if fault == "kill":
                server.kill()
                server.start()
                events.append(f"{elapsed:.1f}s server SIGKILLed and restarted")
            elif args.backend == "postgres-s3":
                server.sample_rss()
                ok = restart_postgres()
                events.append(f"{elapsed:.1f}s PostgreSQL restart {'done' if ok else 'FAILED'}")
        time.sleep(0.2)
    wall = time.time() - started
    if faults:
        events.append(f"the run ended before {len(faults)} of the faults; use a smaller --first-fault")
    for c in clients:
        c.join()
    server.sample_rss()
    server.kill()
    if s3:
        s3.kill()
    if database:
        subprocess.run(["psql", "-q", "-X", "-d", admin, "-c", f"drop database if exists {database} with (force)"])

    total = Stats()
    for out in outs:
        with open(out) as f:
            part = json.load(f)
        for key, value in part.items():
            setattr(total, key, getattr(total, key) + value)
    lat = sorted(total.latencies)
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
    print(f"backend {args.backend}, {args.uploads} uploads from {args.clients} client processes, seed {args.seed}")
    for e in events:
        print(f"  {e}")
    print(f"uploads finished intact: {total.done}/{args.uploads} ({total.bytes / MIB:.1f} MiB) in {wall:.1f} s")
    print(f"part requests: {total.parts_sent}, cut on purpose: {total.cuts}, retried calls: {total.retries}")
    print(f"part latency (answered 200/202): p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"mean {statistics.fmean(lat) * 1000 if lat else 0:.1f} ms")
    print(f"server peak RSS (sampled): {server.peak_rss_kib / 1024:.1f} MiB")
    print(f"acknowledged parts lost: {len(total.lost)}; SHA-256 mismatches: {len(total.mismatched)}; "
          f"failed uploads: {len(total.failed)}")
    for item in (total.lost + total.mismatched + total.failed)[:10]:
        print(f"  {item}")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if total.done == args.uploads and not total.lost and not total.mismatched else 1)


if __name__ == "__main__":
    main()
