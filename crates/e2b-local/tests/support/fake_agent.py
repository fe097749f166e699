#!/usr/bin/python3 -IS
"""A stand-in for the in-sandbox agent, used by e2b-local's tests.

It honours the agent's contract (`envd --socket S --config C`, prints `ready`
once it accepts connections, serves HTTP/1.1 on the Unix socket, and
`GET /.e2b/forward?port=N` with `Upgrade: e2b-tcp` becomes a raw TCP tunnel to
127.0.0.1:N) and adds test-only routes:

  GET  /health                 204
  GET  /envs                   200 the configured env vars
  GET  /echo                   200 {method, path, query, headers}
  GET  /files, POST /files     200 {"route": "files", ...} (body drained)
  POST /upload                 200 {"bytes": n, "pattern": bool}: the body's size and whether it is the pattern
  GET  /download?bytes=N       200 N bytes of the pattern bytes(range(256)) repeated
  POST /exec                   {"cmd": [...], "user": "root"|"user"} -> {"code", "stdout", "stderr"}
  POST /spawn                  {"cmd": [...], "user": ...} -> {"pid"} (runs in the background)
"""

import json
import os
import socket
import subprocess
import sys
import threading

PATTERN = bytes(range(256)) * 256  # 64 KiB
PATTERN2 = PATTERN * 2


def parse_args(argv):
    args = dict(zip(argv[1::2], argv[2::2])) if argv[:1] == ["envd"] else {}
    if "--socket" not in args or "--config" not in args:
        sys.stderr.write("usage: envd --socket PATH --config PATH\n")
        sys.exit(2)
    return args["--socket"], args["--config"]


class Request:
    def __init__(self, rfile, method, target, headers):
        self.rfile = rfile
        self.method = method
        self.path, _, self.query = target.partition("?")
        self.headers = headers

    def param(self, name, default=None):
        from urllib.parse import parse_qs

        values = parse_qs(self.query).get(name)
        return values[0] if values else default

    def body_chunks(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        return
                    left -= len(chunk)
                    yield chunk
                self.rfile.readline()
        else:
            left = int(self.headers.get("content-length", "0") or 0)
            while left:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def body(self):
        return b"".join(self.body_chunks())


def respond(conn, status, body=b"", headers=None, content_length=None):
    reason = {101: "Switching Protocols", 200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway"}
    lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if status not in (101, 204):
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body if isinstance(body, bytes) else b""))


def respond_json(conn, status, value):
    respond(conn, status, json.dumps(value).encode(), {"Content-Type": "application/json"})


def demote(user):
    if user != "user" or os.getuid() != 0:
        return None

    def switch():
        os.setgroups([])
        os.setgid(1000)
        os.setuid(1000)

    return switch


def pipe(src, dst):
    try:
        while True:
            data = src.recv(1 << 16)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def forward(conn, req):
    try:
        port = int(req.param("port", ""))
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        upstream.settimeout(None)
    except (ValueError, OSError) as e:
        respond_json(conn, 502, {"message": f"cannot connect: {e}"})
        return False
    respond(conn, 101, headers={"Connection": "Upgrade", "Upgrade": "e2b-tcp"})
    t = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
    t.start()
    pipe(conn, upstream)
    t.join()
    upstream.close()
    return False


def route(conn, req, config):
    if req.path == "/.e2b/forward" and req.headers.get("upgrade", "").lower() == "e2b-tcp":
        return forward(conn, req)
    if req.path == "/health":
        respond(conn, 204)
    elif req.path == "/envs":
        respond_json(conn, 200, config.get("env_vars", {}))
    elif req.path == "/echo":
        respond_json(conn, 200, {"method": req.method, "path": req.path, "query": req.query, "headers": req.headers})
    elif req.path == "/files":
        drained = sum(len(c) for c in req.body_chunks())
        respond_json(conn, 200, {"route": "files", "method": req.method, "query": req.query, "bytes": drained})
    elif req.path == "/upload" and req.method == "POST":
        total = 0
        matches = True
        for chunk in req.body_chunks():
            view = memoryview(chunk)
            while view:
                offset = total % len(PATTERN)
                n = min(len(view), len(PATTERN))
                matches = matches and view[:n] == PATTERN2[offset : offset + n]
                total += n
                view = view[n:]
        respond_json(conn, 200, {"bytes": total, "pattern": matches})
    elif req.path == "/download":
        n = int(req.param("bytes", "0"))
        respond(conn, 200, headers={"Content-Type": "application/octet-stream"}, content_length=n)
        while n:
            chunk = PATTERN[: min(n, len(PATTERN))]
            conn.sendall(chunk)
            n -= len(chunk)
    elif req.path == "/exec" and req.method == "POST":
        spec = json.loads(req.body() or b"{}")
        try:
            done = subprocess.run(
                spec["cmd"], capture_output=True, timeout=30, preexec_fn=demote(spec.get("user")), cwd=spec.get("cwd", "/")
            )
            respond_json(
                conn,
                200,
                {"code": done.returncode, "stdout": done.stdout.decode(errors="replace"), "stderr": done.stderr.decode(errors="replace")},
            )
        except (OSError, subprocess.SubprocessError) as e:
            respond_json(conn, 200, {"code": -1, "stdout": "", "stderr": str(e)})
    elif req.path == "/spawn" and req.method == "POST":
        spec = json.loads(req.body() or b"{}")
        proc = subprocess.Popen(
            spec["cmd"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=demote(spec.get("user"))
        )
        threading.Thread(target=proc.wait, daemon=True).start()
        respond_json(conn, 200, {"pid": proc.pid})
    else:
        req.body()
        respond_json(conn, 404, {"code": 404, "message": f"no route {req.method} {req.path}"})
    return req.headers.get("connection", "").lower() != "close"


def serve_connection(conn, config):
    rfile = conn.makefile("rb")
    try:
        while True:
            line = rfile.readline()
            if not line.strip():
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers = {}
            while True:
                h = rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            if not route(conn, Request(rfile, method, target, headers), config):
                return
    except (OSError, ValueError) as e:
        sys.stderr.write(f"fake agent: connection error: {e}\n")
    finally:
        rfile.close()
        conn.close()


def main():
    socket_path, config_path = parse_args(sys.argv[1:])
    with open(config_path) as f:
        config = json.load(f)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(128)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve_connection, args=(conn, config), daemon=True).start()


if __name__ == "__main__":
    main()
