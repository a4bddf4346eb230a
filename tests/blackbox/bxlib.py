"""bxlib - harness pieces for the becknd black-box suite (stdlib only).

Everything listens on 127.0.0.1 only.  Python servers bind port 0 and
report the port they got; becknd listens on 127.0.0.1:0 and its port is
read from its JSON log line "listening: network 127.0.0.1:0 (port N)".

  Daemon       one becknd process (optionally under BECKND_WRAPPER), its
               stderr collected line by line, stopped by PID
  StubServer   a tiny threaded HTTP/1.1 server that records every request
               and answers through a handler function
  App          a participant's webhook (records, optional delay, hook)
  Tap          a recording proxy in front of a becknd network listener:
               keeps the exact bytes and headers on the wire, forwards
               them unchanged
  Gateway      a stub Beckn gateway (BG): ACKs a search, then forwards the
               exact bytes and Authorization to BPPs with its own
               X-Gateway-Authorization
  http()       one bounded HTTP exchange (own connection or a kept one)
"""

import http.client as httpclient
import json
import os
import re
import shlex
import signal
import subprocess
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HTTP_TIMEOUT = 15.0


class BxError(Exception):
    """A harness step failed (not a product assertion)."""


# --- the becknd binary -------------------------------------------------------

class Tool:
    """Runs becknd subcommands (keygen, sign, verify, validate, -t)."""

    def __init__(self, binary, wrapper=None):
        self.bin = binary
        self.wrapper = wrapper or []

    def run(self, args, stdin=b"", timeout=20, wrapped=False):
        argv = (self.wrapper if wrapped else []) + [self.bin] + list(args)
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def keygen(self):
        rc, out, err = self.run(["keygen"])
        if rc != 0:
            raise BxError("becknd keygen failed: %s" % err.strip())
        kv = dict(line.split("=", 1) for line in out.split("\n") if "=" in line)
        return kv["signing_private_key"].strip(), kv["signing_public_key"].strip()

    def sign(self, body, private_key, subscriber_id, key_id, created=None,
             expires=None):
        args = ["sign", "--private-key", private_key, "--subscriber-id",
                subscriber_id, "--key-id", key_id]
        if created is not None:
            args += ["--created", str(int(created))]
        if expires is not None:
            args += ["--expires", str(int(expires))]
        rc, out, err = self.run(args, stdin=body)
        if rc != 0:
            raise BxError("becknd sign failed (%d): %s" % (rc, err.strip()))
        return out.strip()

    def verify(self, body, public_key, authorization):
        rc, out, err = self.run(["verify", "--public-key", public_key,
                                 "--authorization", authorization], stdin=body)
        return rc, (out + err).strip()


class Daemon:
    """One becknd -c CONFIG process."""

    def __init__(self, name, tool, conf_path, logdir, wrapper=None):
        self.name = name
        self.tool = tool
        self.conf = conf_path
        self.wrapper = wrapper or []
        self.lines = []
        self.lock = threading.Condition()
        self.logpath = os.path.join(logdir, name + ".stderr")
        self.proc = None
        self.rc = None
        self.net_port = None
        self.client_port = None
        self.exit_time = None

    def start(self, timeout):
        argv = self.wrapper + [self.tool.bin, "-c", self.conf]
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        t = threading.Thread(target=self._reader, daemon=True)
        t.start()
        self.net_port = self.port("network", timeout)
        self.client_port = self.port("client", timeout)
        return self

    def _reader(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
                self.lock.notify_all()
            try:
                self.logf.write(line + "\n")
                self.logf.flush()
            except ValueError:
                pass
        with self.lock:
            self.lines.append(None)		# EOF marker
            self.lock.notify_all()

    def messages(self, since=0):
        """Log messages (the "msg" of JSON lines; other lines verbatim)."""
        out = []
        with self.lock:
            lines = [l for l in self.lines[since:] if l is not None]
        for l in lines:
            try:
                o = json.loads(l)
                out.append(o.get("msg", l) if isinstance(o, dict) else l)
            except ValueError:
                out.append(l)
        return out

    def mark(self):
        with self.lock:
            return len(self.lines)

    def wait_log(self, pattern, timeout, since=0):
        """The first log message from line index since on that matches
        pattern (a regex), or None after timeout or at EOF."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            with self.lock:
                n = len(self.lines)
                eof = n > 0 and self.lines[-1] is None
            for m in self.messages(seen)[: max(0, n - seen)]:
                if rx.search(m):
                    return m
            seen = max(seen, n)
            if eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self.lock:
                if len(self.lines) == seen:
                    self.lock.wait(min(left, 0.2))

    def port(self, which, timeout):
        m = self.wait_log(r"^listening: %s \S+ \(port (\d+)\)" % which,
                          timeout)
        if m is None:
            self.kill()
            raise BxError("%s: no 'listening: %s' line within %.0fs; "
                          "stderr:\n%s" % (self.name, which, timeout,
                                           "\n".join(self.messages()[-20:])))
        return int(re.search(r"\(port (\d+)\)", m).group(1))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self.exit_time is None:
            self.exit_time = time.monotonic()
        return self.rc

    def stop(self, timeout):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.kill()
        self.rc = self.proc.wait()
        return self.rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def close(self):
        try:
            self.logf.close()
        except Exception:
            pass


def memory_holds(pid, needles):
    """For each byte string in needles: is it anywhere in the writable or
    readable private memory of process pid (heap, stacks, anonymous maps,
    data segments)?  Reads /proc/PID/maps and /proc/PID/mem, which a
    parent may do to its child.  Raises BxError when the memory cannot be
    read at all, so a blind scan never passes as "not found"."""
    found = [False] * len(needles)
    longest = max(len(n) for n in needles)
    readable = 0
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms = parts[1]
            path = parts[5] if len(parts) > 5 else ""
            # Skip what cannot hold our heap: the kernel's pages, devices,
            # and reservations of many GiB (AddressSanitizer's shadow is
            # terabytes of untouched pages; reading it would fault them
            # all in).
            if perms[0] != "r" or path in ("[vvar]", "[vsyscall]") or \
                    path.startswith("/dev/") or hi - lo > (4 << 30):
                continue
            tail = b""
            addr = lo
            while addr < hi:
                n = min(1 << 20, hi - addr)
                try:
                    mem.seek(addr)
                    chunk = mem.read(n)
                except (OSError, ValueError):
                    break
                readable += len(chunk)
                data = tail + chunk
                for i, nd in enumerate(needles):
                    if not found[i] and nd in data:
                        found[i] = True
                tail = data[-(longest - 1):] if longest > 1 else b""
                addr += n
    if readable == 0:
        raise BxError("cannot read the memory of process %d" % pid)
    return found


def wrapper_argv():
    w = os.environ.get("BECKND_WRAPPER", "").strip()
    return shlex.split(w) if w else []


def wrapper_error_code(wrapper):
    for a in wrapper:
        m = re.match(r"--error-exitcode=(\d+)$", a)
        if m:
            return int(m.group(1))
    return None


SANITIZER_RX = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"ERROR: UndefinedBehaviorSanitizer|"
    r"^==\d+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|"
    r"Mismatched free|Source and destination overlap|"
    r"\d[\d,]* bytes in \d[\d,]* blocks are definitely lost|"
    r"Process terminating|ERROR SUMMARY: [1-9])")


def sanitizer_reports(lines):
    return [l for l in lines if l is not None and SANITIZER_RX.search(l)]


# --- HTTP --------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers		# list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:300])


def http(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT,
         conn=None):
    """One request; conn: an http.client.HTTPConnection to reuse."""
    own = conn is None
    if own:
        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = {}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass	# the server may answer (413) before reading it all
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.getheaders(), data)
    finally:
        if own:
            conn.close()


# --- Python servers -----------------------------------------------------------

class Request:
    def __init__(self, method, path, headers, body):
        self.time = time.monotonic()
        self.method = method
        full = path
        self.path, _, self.query = full.partition("?")
        self.headers = headers		# list of (name, value)
        self.body = body
        self.done = None		# when the answer was written

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def context(self):
        j = self.json()
        return j.get("context", {}) if isinstance(j, dict) else {}


def read_body(handler):
    """The request body of a BaseHTTPRequestHandler: Content-Length or
    chunked (trailers skipped)."""
    te = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    n = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(n) if n > 0 else b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        return read_body(self)

    def _serve(self):
        self.connection.settimeout(HTTP_TIMEOUT)
        body = self._read_body()
        req = Request(self.command, self.path, list(self.headers.items()),
                      body)
        srv = self.server.stub
        srv.record(req)
        try:
            status, hdrs, out = srv.handler(req)
        except Exception as e:		# harness bug: answer 500, keep going
            status, hdrs, out = 500, [], ("stub error: %r" % e).encode()
        self.close_connection = True
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        req.done = time.monotonic()
        srv.after(req)

    do_POST = _serve
    do_GET = _serve
    do_PUT = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


ACK = json.dumps({"message": {"ack": {"status": "ACK"}}}).encode()


class StubServer:
    """Records requests; handler(req) -> (status, [(name, value)], body)."""

    def __init__(self, name, port=0):
        self.name = name
        self.requests = []
        self.cond = threading.Condition()
        self.srv = None
        self.port = port
        self.start()

    def start(self):
        self.srv = _Server(("127.0.0.1", self.port), _Handler)
        self.srv.stub = self
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.srv is not None:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def record(self, req):
        with self.cond:
            self.requests.append(req)
            self.cond.notify_all()

    def after(self, req):
        with self.cond:
            self.cond.notify_all()

    def handler(self, req):
        return 200, [("Content-Type", "application/json")], ACK

    def find(self, pred):
        with self.cond:
            return [r for r in self.requests if pred(r)]

    def wait_for(self, pred, timeout, count=1):
        """The requests matching pred once at least count arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for r in self.requests if pred(r)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return got
                self.cond.wait(min(left, 0.2))


def by_mid(message_id, action=None, path_suffix=None):
    def pred(r):
        c = r.context()
        if c.get("message_id") != message_id:
            return False
        if action is not None and c.get("action") != action:
            return False
        if path_suffix is not None and not r.path.endswith(path_suffix):
            return False
        return True
    return pred


class App(StubServer):
    """A participant's webhook: ACKs, optionally after a delay, and runs
    hook(req) in a thread after answering (e.g. to send a callback)."""

    def __init__(self, name, port=0):
        self.delay = 0.0
        self.hook = None
        self.status = 200
        super().__init__(name, port)

    def handler(self, req):
        if self.delay:
            time.sleep(self.delay)
        return self.status, [("Content-Type", "application/json")], ACK

    def after(self, req):
        super().after(req)
        hook = self.hook
        if hook is not None:
            threading.Thread(target=hook, args=(req,), daemon=True).start()


FORWARD_HEADERS = ("content-type", "authorization", "x-gateway-authorization",
                   "proxy-authorization")


class Tap(StubServer):
    """Records the wire and forwards it, unchanged, to target_port."""

    def __init__(self, name):
        self.target_port = None
        self.answers = {}
        super().__init__(name)

    def handler(self, req):
        if self.target_port is None:
            return 503, [], b"tap: no target yet"
        hdrs = {k: v for k, v in req.headers if k.lower() in FORWARD_HEADERS}
        try:
            r = http(self.target_port, req.method, req.path +
                     ("?" + req.query if req.query else ""),
                     body=req.body if req.method != "GET" else None,
                     headers=hdrs)
        except OSError as e:
            return 502, [], ("tap: %r" % e).encode()
        self.answers[id(req)] = r
        out = [(k, v) for k, v in r.headers if k.lower() in
               ("content-type", "www-authenticate", "proxy-authenticate")]
        return r.status, out, r.body


class Gateway(StubServer):
    """A stub BG: ACKs a search and forwards the exact bytes and the BAP's
    Authorization to every BPP in targets ([(port, path)]), adding its
    own X-Gateway-Authorization (signed with becknd sign)."""

    def __init__(self, name, tool, subscriber_id, key_id, private_key):
        self.tool = tool
        self.sid = subscriber_id
        self.kid = key_id
        self.key = private_key
        self.targets = []
        self.forwarded = []		# (port, path, Response or error)
        super().__init__(name)

    def handler(self, req):
        if not req.path.endswith("/search"):
            return 404, [], b"gateway: search only"
        threading.Thread(target=self._forward, args=(req,),
                         daemon=True).start()
        return 200, [("Content-Type", "application/json")], ACK

    def _forward(self, req):
        try:
            gw = self.tool.sign(req.body, self.key, self.sid, self.kid)
        except BxError as e:
            with self.cond:
                self.forwarded.append((None, None, e))
                self.cond.notify_all()
            return
        for port, path in list(self.targets):
            hdrs = {"Authorization": req.header("Authorization"),
                    "X-Gateway-Authorization": gw}
            try:
                r = http(port, "POST", path, body=req.body, headers=hdrs)
            except OSError as e:
                r = e
            with self.cond:
                self.forwarded.append((port, path, r))
                self.cond.notify_all()


# --- Beckn bits ----------------------------------------------------------------

UUID_RX = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-"
                     r"[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)
RFC3339_RX = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T"
                        r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
                        r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$", re.I)
ISO_DURATION_RX = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?"
                             r"(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")


def new_id():
    return str(uuid.uuid4())


def rfc3339(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % (int(t * 1000) % 1000)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def raw_context(body):
    """The exact bytes of the context value of a body that starts with
    {"context": (as becknd writes them), or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    prefix = '{"context":'
    if not text.startswith(prefix):
        return None
    try:
        _, end = json.JSONDecoder().raw_decode(text, len(prefix))
    except ValueError:
        return None
    return text[len(prefix):end]


# --- what every suite's tests raise and how one test is run -----------------

class Fail(Exception):
    """A check failed: the message says what was seen and wanted."""


class Skip(Exception):
    """The test cannot run here (the reason is printed)."""


def check(cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)


def eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


def log(msg):
    print(msg, flush=True)


def run_case(name, fn, ctx, deadline_s, results, verbose=False):
    """Run fn(ctx) on a thread for at most deadline_s (then ctx.kill()),
    clean ctx up and print one PASS, FAIL or SKIP line, counting it in
    results ("pass", "fail", "skip").  A failure also prints the last log
    lines of every daemon ctx started."""
    box = {}
    t0 = time.monotonic()

    def body():
        try:
            fn(ctx)
        except BaseException as e:
            box["e"] = e
            box["tb"] = traceback.format_exc()

    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(deadline_s)
    err = None
    if th.is_alive():
        err = Fail("ran past its deadline of %.0f s" % deadline_s)
        ctx.kill()
        th.join(5)
    elif "e" in box:
        err = box["e"]
    problems = ctx.cleanup()
    if isinstance(err, Skip):
        results["skip"] += 1
        log("SKIP: %s: %s" % (name, err))
        return
    if err is None and problems:
        err = Fail("; ".join(problems))
    elif err is not None and problems:
        log("  (also: %s)" % "; ".join(problems))
    took = time.monotonic() - t0
    if err is None:
        results["pass"] += 1
        log("PASS: %s (%.1fs)" % (name, took))
        return
    results["fail"] += 1
    if isinstance(err, Fail):
        log("FAIL: %s: %s (%.1fs)" % (name, err, took))
    else:
        log("FAIL: %s: %s: %s" % (name, type(err).__name__, err))
        if verbose:
            log(box.get("tb", ""))
    for d in ctx.daemons:
        log("  ---- %s (pid %s, exit %s) log tail:" % (d.name, d.pid, d.rc))
        for m in d.messages()[-12:]:
            log("    " + m[:300])
