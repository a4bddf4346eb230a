#!/usr/bin/env python3
"""becknd abuse suite: the real becknd under hostile load on 127.0.0.1,
asserting the budgets of issue 10 and printing what it measured.

    BECKND_BIN=/path/to/becknd BECKND_SRCDIR=/path/to/source \\
        python3 tests/abuse/run.py [-v] [-k SUBSTRING]

Python 3 standard library only; it reuses tests/blackbox/bxlib.py (Daemon,
Tool, StubServer, App, http).  Every process and server listens on
127.0.0.1 and every port is chosen at run time; the junk of the load tests
connects from a second loopback address (JUNK_SOURCE, 127.0.0.2), the
legitimate peers from 127.0.0.1.  Each test starts its own
becknd processes (and stubs), stops them by PID at its end, checks that
they exited 0 without a sanitizer report, and has a deadline; the whole
suite has a watchdog (BECKND_ABUSE_TIMEOUT, default 270 s, 600 s under a
wrapper).  Each test
prints its figures as "abuse: ..." lines; the last line is
"abuse: N passed, M failed[, K skipped]".

Environment:
  BECKND_BIN, BECKND_SRCDIR   as for tests/blackbox/run.py (make check sets
                              them)
  BECKND_WRAPPER              e.g. valgrind: the load tests (memory, idle
                              connections, registry flood, tenants) are then
                              SKIPPED -- they measure RSS and latency, which
                              mean nothing under valgrind -- and the rest
                              run with waits scaled by BECKND_ABUSE_SLOW
                              (default 6 under a wrapper), as
                              contrib/test.sh does.
  BECKND_ABUSE_SLOW           time factor for waits (not for the bounds the
                              issue sets: those are printed as they are)
  BECKND_ABUSE_KEEP=1         keep the temporary folder (configs, logs)
  BECKND_ABUSE_SKIP           comma-separated name substrings to skip

Under AddressSanitizer (detected from the binary) the daemons get
ASAN_OPTIONS quarantine_size_mb=16 (ASan keeps freed memory in a 256 MiB
quarantine by default, which is not becknd's), and the RSS bound adds
ASan's own memory: shadow (1/8), that quarantine and its runtime.

The configuration keys, header names and log patterns that other work of
issue 10 chooses are written once, in the block below, so they can be
adjusted in one edit.
"""

import sys
sys.dont_write_bytecode = True

import base64
import concurrent.futures
import copy
import errno
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import bxlib  # noqa: E402
from bxlib import (App, BxError, Daemon, StubServer, Tool,  # noqa: E402
                   by_mid, compact, http, new_id, rfc3339)

# ============================================================================
# Keys, headers and log patterns this suite assumes (one place to adjust).
# ============================================================================

K_MEMORY_MAX = "limits.memory_max"			# on main
K_BODY_MAX = "limits.body_max"
K_READ_TIMEOUT = "limits.read_timeout"
K_MAX_CONNECTIONS = "limits.max_connections"
K_PER_CLIENT = "limits.max_connections_per_client"	# http10
K_IDLE_TIMEOUT = "limits.idle_timeout"			# http10
K_CACHE_SIZE = "registry.cache_size"
K_REG_TIMEOUT = "registry.timeout"
K_MAX_ATTEMPTS = "delivery.max_attempts"		# dlv10
K_WEBHOOK_TIMEOUT = "delivery.webhook_timeout"
K_BACKOFF = "delivery.backoff"
K_BACKOFF_MAX = "delivery.backoff_max"
K_RETRIES = "delivery.retries"
K_UPSTREAM_TIMEOUT = "delivery.upstream_timeout"

# Keys set only so that a limit does not interfere with what a test
# measures (all traffic comes from 127.0.0.1, so a per-address limit would
# also hit the legitimate peer).  A becknd that does not know one yet gets
# the configuration without it, and the test says so.
OPTIONAL_KEYS = {K_PER_CLIENT, K_IDLE_TIMEOUT}
PER_CLIENT_OFF = "100000"	# "per-address limit out of the way"

# The attacker's address.  Every server listens on 127.0.0.1 and the
# legitimate peers connect from it; the junk of the load tests comes from
# this other loopback address, because the defences the issue asks for are
# per peer address (registry.miss_* buckets, per-client connections): from
# one shared address the legitimate peer would rightly share the flood's
# fate.  Nothing leaves the loopback interface.  When it cannot be bound
# the junk comes from 127.0.0.1 and the tests say so.
JUNK_SOURCE = "127.0.0.2"
JUNK_CHECKED = False

# What the webhook sees on every delivery attempt (dlv10).
H_IDEMPOTENCY = "Idempotency-Key"
H_MESSAGE_ID = "X-Beckn-Message-Id"
H_TRANSACTION_ID = "X-Beckn-Transaction-Id"
# A dead-lettered message is logged with its message_id and this word.
DEAD_LETTER_RX = r"dead[- _]?letter"		# case-insensitive

# The bounds the issue sets.
MEMORY_MAX_MIB = 64
RSS_SLACK_MIB = 64		# RSS < memory_max + this
# AddressSanitizer's own memory on top: shadow (1/8 of the bound), the
# quarantine the suite sets, and its runtime.
ASAN_QUARANTINE_MIB = 16
ASAN_RUNTIME_MIB = 16
JUNK_BODIES = 50
# 2 MiB less 1 KiB: 32 such bodies fit a 64 MiB budget with 32 KiB to
# spare, so a strict global budget still has room for the signed request.
JUNK_BYTES = (2 << 20) - 1024
SIGNED_ACK_S = 1.0
IDLE_CONNECTIONS = 12000
MAX_CONNECTIONS = 10000
RANDOM_KEYIDS = 2000
REGISTRY_DELAY_S = 2.0
NEW_PEER_S = 3.0
FLOOD_CACHE_SIZE = 50		# fewer than the "not found" answers in 2 s
TENANT_S = 1.0
TENANT_FLOOD = 300		# > the 256 shared outbound transfers of old
MAX_ATTEMPTS = 3
PIPELINED = 200

# ============================================================================

DOMAIN = "onest:learning-experiences"
SRCDIR = os.environ.get("BECKND_SRCDIR") or \
    os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("BECKND_BIN") or os.path.join(
    os.environ.get("BECKND_BUILDDIR", os.getcwd()), "becknd")
WRAPPER = bxlib.wrapper_argv()
WRAPPER_RC = bxlib.wrapper_error_code(WRAPPER)
SLOW = float(os.environ.get("BECKND_ABUSE_SLOW") or (6 if WRAPPER else 1))
T = 5.0 * SLOW
START_T = 15.0 * SLOW
WATCHDOG = float(os.environ.get("BECKND_ABUSE_TIMEOUT") or
                 (270 if not WRAPPER else 600))
FIXTURES = os.path.join(SRCDIR, "tests", "blackbox", "fixtures")
VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
SKIP = [x.strip() for x in
        (os.environ.get("BECKND_ABUSE_SKIP") or "").split(",") if x.strip()]
MIB = 1 << 20


from bxlib import Fail, Skip, check, log  # noqa: E402


def fig(msg, *args):
    """A measured figure."""
    log("abuse: " + (msg % args if args else msg))


def fixture_message(action):
    with open(os.path.join(FIXTURES, action + ".json")) as f:
        return copy.deepcopy(json.load(f).get("message"))


def is_asan(binary):
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = is_asan(BIN)

# Quiet stub servers: a peer that gives up on a slow stub makes its write
# fail, which is expected here; and a burst of connections needs a longer
# accept queue than socketserver's 5.
bxlib._Server.request_queue_size = 4096
bxlib._Server.handle_error = lambda self, request, address: None

# ============================================================================
# Parties, registry records, bodies
# ============================================================================


class Party:
    def __init__(self, tool, sid, typ, url=None):
        self.sid = sid
        self.kid = sid + ".k1"
        self.type = typ
        self.url = url or "http://127.0.0.1:9/" + sid.split(".")[0]
        self.priv, self.pub = tool.keygen()

    def record(self, url=None):
        now = time.time()
        return {"subscriber_id": self.sid, "subscriber_url": url or self.url,
                "type": self.type, "domain": DOMAIN, "ukId": self.kid,
                "signing_public_key": self.pub, "status": "SUBSCRIBED",
                "valid_from": rfc3339(now - 86400),
                "valid_until": rfc3339(now + 365 * 86400)}


def request_body(action, bap, bpp, message=None, **ctx):
    c = {"domain": DOMAIN, "action": action, "version": "1.1.0",
         "bap_id": bap.sid, "bap_uri": bap.url,
         "bpp_id": bpp.sid, "bpp_uri": bpp.url,
         "transaction_id": new_id(), "message_id": new_id(),
         "timestamp": rfc3339(), "ttl": "PT30S"}
    c.update(ctx)
    body = {"context": c,
            "message": message if message is not None else
            fixture_message(action)}
    return compact(body), c


class Registry(StubServer):
    """A registry URL: POST /lookup answers the matching records after
    delay seconds."""

    def __init__(self, name, delay=0.0):
        self.records = []
        self.delay = delay
        super().__init__(name)

    def handler(self, req):
        q = req.json()
        q = q if isinstance(q, dict) else {}
        if self.delay:
            time.sleep(self.delay)
        if not req.path.endswith("/lookup"):
            return 404, [], b"registry stub: /lookup only"
        out = []
        for r in list(self.records):
            if q.get("subscriber_id") not in (None, r["subscriber_id"]):
                continue
            kid = q.get("ukId", q.get("unique_key_id"))
            if kid not in (None, r["ukId"]):
                continue
            if q.get("type") and q["type"].upper() != r["type"].upper():
                continue
            if q.get("domain") and r.get("domain") not in (None,
                                                            q["domain"]):
                continue
            out.append(r)
        return 200, [("Content-Type", "application/json")], \
            json.dumps(out).encode()

    def lookups(self):
        return len(self.requests)


class ScriptedApp(StubServer):
    """A webhook whose answer comes from script(req, n) -> (status,
    delay_s, hold_event_or_None); n counts this message_id's attempts."""

    def __init__(self, name, script=None):
        self.script = script
        self.seen = {}
        self.lock = threading.Lock()
        super().__init__(name)

    def handler(self, req):
        mid = req.context().get("message_id")
        with self.lock:
            n = self.seen[mid] = self.seen.get(mid, 0) + 1
        status, delay, hold = (200, 0, None) if self.script is None else \
            self.script(req, n)
        if hold is not None:
            hold.wait(60)
        if delay:
            time.sleep(delay)
        return status, [("Content-Type", "application/json")], bxlib.ACK


# ============================================================================
# Raw HTTP on sockets
# ============================================================================

def parse_response(buf):
    """(status, headers, body, rest) of the first response in buf, or
    None while incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
    if not m:
        raise Fail("not an HTTP response: %r" % buf[:80])
    hdrs = []
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs.append((k.strip(), v.strip()))
    n = 0
    for k, v in hdrs:
        if k.lower() == "content-length":
            n = int(v)
    if len(buf) < end + 4 + n:
        return None
    body = buf[end + 4:end + 4 + n]
    return int(m.group(1)), hdrs, body, buf[end + 4 + n:]


def read_response(sock, timeout):
    """One response from sock: bxlib.Response, or None at EOF/timeout."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        r = parse_response(buf)
        if r is not None:
            return bxlib.Response(r[0], r[1], r[2])
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk


def raw_request(port, data, timeout=None):
    """Sends data on a new connection and reads one response."""
    timeout = timeout or T
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        return read_response(s, timeout)
    finally:
        s.close()


def head(method, path, headers, body_len=None):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    lines += ["%s: %s" % (k, v) for k, v in headers]
    if body_len is not None:
        lines.append("Content-Length: %d" % body_len)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def nack_paths(resp):
    try:
        err = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, None
    return err, [p.strip() for p in (err.get("paths") or "").split(",")
                 if p.strip()]


def is_ack(resp):
    try:
        j = resp.json()
    except ValueError:
        return False
    return resp.status == 200 and \
        (j.get("message") or {}).get("ack", {}).get("status") == "ACK"


def what(resp):
    if resp is None:
        return "no answer"
    return "HTTP %d %s" % (resp.status, resp.body[:200].decode("utf-8",
                                                               "replace"))


# ============================================================================
# Per-test context: processes, servers, sockets, all stopped at the end
# ============================================================================

class Ctx:
    def __init__(self, name, tmp, tool):
        self.name = name
        self.tmp = tmp
        self.tool = tool
        self.daemons = []
        self.servers = []
        self.socks = []
        self.events = []
        self.notes = []
        self.slug = re.sub(r"\W+", "-", name)[:40].strip("-")

    def server(self, s):
        self.servers.append(s)
        return s

    def registry(self, delay=0.0):
        return self.server(Registry("registry", delay))

    def event(self):
        e = threading.Event()
        self.events.append(e)
        return e

    def party(self, sid, typ, url=None):
        return Party(self.tool, sid, typ, url)

    def daemon(self, name, participants, registry, keys=None):
        """Writes a configuration, checks it with -t (leaving out an
        OPTIONAL_KEYS key this becknd does not know yet) and starts it."""
        keys = dict(keys or {})
        keys.setdefault("store.path", os.path.join(
            self.tmp, "%s.%s.db" % (self.slug, name)))
        while True:
            path = os.path.join(self.tmp, "%s.%s.yaml" % (self.slug, name))
            with open(path, "w") as f:
                f.write(config_text(participants, registry, keys))
            rc, out, err = self.tool.run(["-c", path, "-t"], wrapped=True)
            if rc == 0:
                break
            m = re.search(r'unknown key "?([\w.\[\]]+)', err)
            if m and m.group(1) in OPTIONAL_KEYS and m.group(1) in keys:
                del keys[m.group(1)]
                self.note("becknd does not know %s yet: left out of the "
                          "configuration" % m.group(1))
                continue
            if m:
                raise Fail("becknd -t refuses the test configuration: "
                           "%s (a key this suite assumes: see the top of "
                           "tests/abuse/run.py)" % err.strip())
            raise Fail("becknd -t refuses the test configuration: %s%s" %
                       (out.strip(), err.strip()))
        d = Daemon("%s.%s" % (self.slug, name), self.tool, path, self.tmp,
                   WRAPPER)
        self.daemons.append(d)
        return d.start(START_T)

    def note(self, msg):
        self.notes.append(msg)
        fig("%s", msg)

    def cleanup(self):
        """Stops everything; returns the problems of the daemons' exits."""
        for e in self.events:
            e.set()
        for s in self.socks:
            try:
                # Reset, not FIN: thousands of TIME_WAIT ports otherwise.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.socks = []
        problems = []
        for d in self.daemons:
            try:
                rc = d.stop(10 * SLOW)
            except Exception:
                d.kill()
                rc = d.rc
            d.close()
            with d.lock:
                lines = list(d.lines)
            reps = bxlib.sanitizer_reports(lines)
            if rc != 0:
                problems.append("%s (pid %s) exited %s%s" % (
                    d.name, d.pid, rc, " (wrapper error code)"
                    if rc == WRAPPER_RC else ""))
            if reps:
                problems.append("%s: %s" % (d.name, " | ".join(reps[:5])))
        for s in self.servers:
            try:
                s.stop()
            except Exception:
                pass
        return problems

    def kill(self):
        for d in self.daemons:
            d.kill()
        for s in self.servers:
            try:
                s.srv.server_close()
            except Exception:
                pass


def yq(s):
    return json.dumps(s)


BASE_KEYS = [
    ("listen.network", "127.0.0.1:0"),
    ("listen.client", "127.0.0.1:0"),
    ("security.clock_skew", "5s"),
    ("security.replay_window", "10m"),
    ("delivery.backoff", "100ms"),
    ("delivery.backoff_max", "500ms"),
    ("delivery.webhook_timeout", "5s"),
    ("delivery.shutdown_timeout", "1s"),
    ("log.level", "info"),
]


def config_text(participants, registry, keys):
    """A becknd configuration: BASE_KEYS, then keys (dotted names; a None
    value leaves a key out), registry.url of the stub registry, built-in
    schemas, and the participants ({subscriber_id, role, path, webhook,
    private_key, key_id})."""
    merged = dict(BASE_KEYS)
    merged["registry.url"] = registry.url
    merged.update(keys)
    sections = {}
    for k, v in merged.items():
        if v is None:
            continue
        sec, _, name = k.partition(".")
        sections.setdefault(sec, []).append((name, v))
    order = ["listen", "registry", "security", "limits", "delivery", "log",
             "store"]
    lines = ["# generated by tests/abuse/run.py"]
    for sec in sorted(sections, key=lambda x: order.index(x) if x in order
                      else len(order)):
        lines.append("%s:" % sec)
        for name, v in sections[sec]:
            lines.append("  %s: %s" % (name, yq(str(v))))
    lines.append("participants:")
    for p in participants:
        party = p["party"]
        lines += ["  - subscriber_id: %s" % yq(party.sid),
                  "    key_id: %s" % yq(party.kid),
                  "    role: %s" % yq(p["role"]),
                  "    private_key: %s" % yq(party.priv),
                  "    subscriber_url: %s" % yq(party.url),
                  "    domains: [%s]" % yq(DOMAIN)]
        if p.get("webhook"):
            lines.append("    webhook: %s" % yq(p["webhook"]))
    return "\n".join(lines) + "\n"


# ============================================================================
# The runner
# ============================================================================

TESTS = []
RESULTS = {"pass": 0, "fail": 0, "skip": 0}
TOOL = None
TMP = None


def test(name, deadline, load=False):
    def deco(fn):
        TESTS.append((name, fn, deadline, load))
        return fn
    return deco


def run_one(name, fn, deadline, load):
    if ONLY and ONLY not in name:
        return
    if any(x in name for x in SKIP):
        RESULTS["skip"] += 1
        log("SKIP: %s: BECKND_ABUSE_SKIP" % name)
        return
    if load and WRAPPER:
        RESULTS["skip"] += 1
        log("SKIP: %s: a load test (RSS, latency): not meaningful under %s"
            % (name, os.path.basename(WRAPPER[0])))
        return
    ctx = Ctx(name, TMP, TOOL)
    bxlib.run_case(name, fn, ctx, deadline * SLOW, RESULTS, VERBOSE)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ============================================================================
# Shared set-ups
# ============================================================================

def rss_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out.get("VmRSS", 0), out.get("VmHWM", 0)


class BppWorld:
    """One becknd with a BPP participant "bpp.test" (path /bpp, webhook
    app), a registered BAP peer "bap.test" that signs with becknd sign,
    and a stub registry that knows both."""

    def __init__(self, ctx, keys=None, delay=0.0, app=None):
        self.ctx = ctx
        self.reg = ctx.registry(delay)
        self.bap = ctx.party("bap.test", "BAP")
        self.bpp = ctx.party("bpp.test", "BPP")
        self.app = ctx.server(app or ScriptedApp("bpp-app"))
        self.reg.records = [self.bap.record(), self.bpp.record()]
        self.d = ctx.daemon("bpp", [{
            "party": self.bpp, "role": "bpp",
            "webhook": self.app.url + "/hook/{action}"}], self.reg, keys)
        self.port = self.d.net_port

    def signed(self, action="select", party=None, message=None, **ctx):
        party = party or self.bap
        body, c = request_body(action, party, self.bpp, message, **ctx)
        return body, c, self.ctx.tool.sign(body, party.priv, party.sid,
                                           party.kid)

    def sign_many(self, n, action="select"):
        """n signed (body, context, Authorization), signed in parallel."""
        bodies = [request_body(action, self.bap, self.bpp)
                  for _ in range(n)]
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            auths = list(ex.map(lambda b: self.ctx.tool.sign(
                b[0], self.bap.priv, self.bap.sid, self.bap.kid), bodies))
        return [(b, c, a) for (b, c), a in zip(bodies, auths)]

    def post(self, body, auth, action="select", timeout=None, extra=None):
        h = {"Authorization": auth}
        h.update(extra or {})
        return http(self.port, "POST", "/bpp/%s" % action, body, h,
                    timeout=timeout or bxlib.HTTP_TIMEOUT)


def junk_source():
    """JUNK_SOURCE, or 127.0.0.1 when it cannot be bound (said once)."""
    global JUNK_SOURCE, JUNK_CHECKED
    if not JUNK_CHECKED and JUNK_SOURCE != "127.0.0.1":
        JUNK_CHECKED = True
        try:
            with socket.socket() as s:
                s.bind((JUNK_SOURCE, 0))
        except OSError as e:
            fig("cannot bind %s (%s): the junk comes from 127.0.0.1, the "
                "legitimate peers' address", JUNK_SOURCE, e)
            JUNK_SOURCE = "127.0.0.1"
    return JUNK_SOURCE


def junk_socket(port, timeout=None):
    """A socket from the attacker's address; connected to 127.0.0.1:port
    unless port is None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((junk_source(), 0))
        if port is not None:
            s.settimeout(timeout)
            s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return s


def forged_auth(tool, sid, kid, template=None):
    """An Authorization header of the right shape (current created and
    expires) with a keyId nobody registered; the signature is garbage."""
    if template is None:
        priv, _ = tool.keygen()
        template = tool.sign(b"{}", priv, "x", "x")
    return re.sub(r'keyId="[^"]*"', 'keyId="%s|%s|ed25519"' % (sid, kid),
                  template), template


# ============================================================================
# 1. memory: 50 concurrent 2 MiB junk bodies, unknown keyIds, 2 s registry
# ============================================================================

@test("memory: %d concurrent 2 MiB junk bodies with unknown keyIds and a "
      "2 s registry: RSS under memory_max + %d MiB, a signed request ACKed "
      "within %.0f s" % (JUNK_BODIES, RSS_SLACK_MIB, SIGNED_ACK_S),
      deadline=60, load=True)
def t_memory(ctx):
    w = BppWorld(ctx, {K_MEMORY_MAX: "%dMiB" % MEMORY_MAX_MIB,
                       K_BODY_MAX: "2MiB", K_REG_TIMEOUT: "10s",
                       K_PER_CLIENT: PER_CLIENT_OFF},
                 delay=REGISTRY_DELAY_S)
    pid = w.d.pid
    # The registered peer's key is cached first (one 2 s lookup).
    body, c, auth = w.signed()
    r = w.post(body, auth, timeout=T + REGISTRY_DELAY_S)
    check(is_ack(r), "warm-up: a signed select from the registered peer "
          "got %s", what(r))
    base_rss, _ = rss_kib(pid)
    legit = w.signed()

    junk = b"[" + b"{}," * ((JUNK_BYTES - 4) // 3)
    junk += b"{}" + b" " * (JUNK_BYTES - len(junk) - 3) + b"]"
    check(len(junk) == JUNK_BYTES, "junk body is %d bytes", len(junk))
    template = None
    heads = []
    for i in range(JUNK_BODIES):
        a, template = forged_auth(ctx.tool, "junk%d.test" % i, "k%d" % i,
                                  template)
        heads.append(head("POST", "/bpp/select",
                          [("Content-Type", "application/json"),
                           ("Authorization", a)], len(junk)))

    peak = [0]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], rss_kib(pid)[0])
            except OSError:
                return
            time.sleep(0.01)

    lock = threading.Lock()
    sent = [0]
    answers = {}
    gate = threading.Barrier(JUNK_BODIES)

    def junk_client(i):
        status = "no answer"
        try:
            s = junk_socket(w.port, T)
        except OSError as e:
            status = "connect: %s" % e.__class__.__name__
            s = None
        if s is not None:
            ctx.socks.append(s)
            try:
                gate.wait(T)
            except threading.BrokenBarrierError:
                pass
            try:
                s.sendall(heads[i] + junk)
            except OSError:
                status = "reset while sending"
            with lock:
                sent[0] += 1
            resp = read_response(s, REGISTRY_DELAY_S + 4 * T)
            if resp is not None:
                status = resp.status
            elif status == "no answer":
                status = "closed without an answer"
        with lock:
            answers[status] = answers.get(status, 0) + 1

    threading.Thread(target=sampler, daemon=True).start()
    threads = [threading.Thread(target=junk_client, args=(i,), daemon=True)
               for i in range(JUNK_BODIES)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    while time.monotonic() - t0 < T and sent[0] < JUNK_BODIES:
        time.sleep(0.01)
    t_sent = time.monotonic() - t0
    time.sleep(0.2)			# the refused ones, if any, are answered
    with lock:
        in_flight = JUNK_BODIES - sum(answers.values())
    t1 = time.monotonic()
    try:
        r = w.post(legit[0], legit[2], timeout=SIGNED_ACK_S + T)
    except OSError as e:
        r = None
        fail_why = "%s" % e
    else:
        fail_why = what(r)
    ack_s = time.monotonic() - t1
    for th in threads:
        th.join(REGISTRY_DELAY_S + 5 * T)
    stop.set()
    _, hwm = rss_kib(pid)
    bound = MEMORY_MAX_MIB + RSS_SLACK_MIB
    asan = 0
    if ASAN:
        asan = bound // 8 + ASAN_QUARANTINE_MIB + ASAN_RUNTIME_MIB
        bound += asan
    fig("memory: rss peak %.0f MiB (VmHWM; sampled %.0f MiB, before the "
        "junk %.0f MiB), bound %d MiB (memory_max %d MiB + %d%s)",
        hwm / 1024, peak[0] / 1024, base_rss / 1024, bound, MEMORY_MAX_MIB,
        RSS_SLACK_MIB, " + %d for ASan" % asan if ASAN else "")
    fig("memory: %d x %d-byte junk bodies from %s sent in %.2f s, %d in "
        "flight when the signed request went; junk answers %s",
        JUNK_BODIES, JUNK_BYTES, JUNK_SOURCE, t_sent, in_flight,
        ", ".join("%s: %d" % kv for kv in sorted(answers.items(),
                                                  key=str)))
    fig("memory: signed ACK in %.2f s (bound %.1f s)%s", ack_s,
        SIGNED_ACK_S, "" if r is not None and is_ack(r) else
        " -- not an ACK: " + fail_why)
    check(w.d.alive(), "becknd died under the junk (exit %s)",
          w.d.proc.poll())
    check(hwm <= bound * 1024, "becknd's RSS peaked at %.0f MiB, over "
          "limits.memory_max %d MiB + %d MiB: %d junk bodies of 2 MiB with "
          "unknown keyIds are held in memory while their keys are looked up",
          hwm / 1024, MEMORY_MAX_MIB, RSS_SLACK_MIB, JUNK_BODIES)
    check(r is not None and is_ack(r), "the registered peer's signed "
          "select got %s while the junk was in flight", fail_why)
    check(ack_s <= SIGNED_ACK_S, "the registered peer's signed select was "
          "ACKed after %.2f s (bound %.1f s) while the junk was in flight",
          ack_s, SIGNED_ACK_S)


# ============================================================================
# 2. connections: 12,000 idle connections, then a signed request
# ============================================================================

@test("connections: %d idle connections to the network listener "
      "(max_connections %d), then a signed request on a new connection is "
      "ACKed" % (IDLE_CONNECTIONS, MAX_CONNECTIONS), deadline=90, load=True)
def t_idle_connections(ctx):
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    idle, maxc = IDLE_CONNECTIONS, MAX_CONNECTIONS
    if nofile < idle + 500:
        # Scale down, keeping the ratio, and say so.
        idle = max(600, nofile - 500)
        maxc = idle * MAX_CONNECTIONS // IDLE_CONNECTIONS
        ctx.note("RLIMIT_NOFILE is %d: %d idle connections against "
                 "max_connections %d instead" % (nofile, idle, maxc))
    w = BppWorld(ctx, {K_MAX_CONNECTIONS: str(maxc),
                       K_PER_CLIENT: PER_CLIENT_OFF,
                       K_IDLE_TIMEOUT: "120s", K_READ_TIMEOUT: "60s"})
    body, c, auth = w.signed()
    check(is_ack(w.post(body, auth)), "warm-up select not ACKed")
    legit = w.signed()

    ep = select.epoll()
    socks = {}
    t0 = time.monotonic()
    pending = set()
    for i in range(idle):
        s = junk_socket(None)
        s.setblocking(False)
        rc = s.connect_ex(("127.0.0.1", w.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            continue
        socks[s.fileno()] = s
        ctx.socks.append(s)
        ep.register(s.fileno(), select.EPOLLOUT)
        pending.add(s.fileno())
    established = 0
    failed = 0
    deadline = time.monotonic() + T
    while pending and time.monotonic() < deadline:
        for fd, ev in ep.poll(0.2, len(socks) + 1):
            s = socks[fd]
            ep.unregister(fd)
            pending.discard(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                established += 1
                ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
            else:
                failed += 1
    t_open = time.monotonic() - t0
    for fd in pending:
        ep.unregister(fd)
    pending = len(pending)
    time.sleep(0.5)
    # (epoll.poll returns at most 1023 events unless told otherwise)
    closed = len(ep.poll(0, len(socks) + 1))
    t1 = time.monotonic()
    try:
        r = w.post(legit[0], legit[2], timeout=T)
        why = what(r)
    except OSError as e:
        r, why = None, "no answer within %.0f s (%s)" % (T, e)
    ack_s = time.monotonic() - t1
    time.sleep(0.2)
    closed_after = len(ep.poll(0, len(socks) + 1))
    ep.close()
    fig("connections: %d idle connections from %s opened in %.1f s (%d "
        "established, %d failed, %d still connecting); becknd had closed %d "
        "of them, %d after the signed request", idle, JUNK_SOURCE, t_open,
        established, failed,
        pending, closed, closed_after)
    fig("connections: signed request on a new connection: %s in %.2f s",
        "ACK" if r is not None and is_ack(r) else why, ack_s)
    check(w.d.alive(), "becknd died (exit %s)", w.d.proc.poll())
    check(r is not None and is_ack(r), "with %d idle connections open "
          "(limits.max_connections %d) a signed request on a new connection "
          "got %s: idle connections lock everyone out", established, maxc,
          why)


# ============================================================================
# 3. registry flood: 2,000 random keyIds against a 2 s registry
# ============================================================================

@test("registry flood: %d random keyIds against a 2 s registry, then a new "
      "legitimate peer is verified within %.0f s and a cached peer stays "
      "cached" % (RANDOM_KEYIDS, NEW_PEER_S), deadline=90, load=True)
def t_registry_flood(ctx):
    w = BppWorld(ctx, {K_PER_CLIENT: PER_CLIENT_OFF,
                       K_CACHE_SIZE: str(FLOOD_CACHE_SIZE),
                       K_REG_TIMEOUT: "10s"},
                 delay=REGISTRY_DELAY_S)
    fresh = ctx.party("fresh.test", "BAP")
    w.reg.records.append(fresh.record())
    body, c, auth = w.signed()
    r = w.post(body, auth, timeout=T + REGISTRY_DELAY_S)
    check(is_ack(r), "warm-up: the cached peer's select got %s", what(r))
    legit = w.signed(party=fresh, bap_id=fresh.sid, bap_uri=fresh.url)
    known = w.signed()

    jbody, _ = request_body("select", fresh, w.bpp)
    template = None
    reqs = []
    for i in range(RANDOM_KEYIDS):
        rnd = base64.b32encode(os.urandom(10)).decode().lower()
        a, template = forged_auth(ctx.tool, "r%s.test" % rnd, rnd, template)
        reqs.append(head("POST", "/bpp/select",
                         [("Content-Type", "application/json"),
                          ("Authorization", a)], len(jbody)) + jbody)
    ep = select.epoll()
    socks = {}
    answers = {}
    t0 = time.monotonic()
    refused = 0
    for data in reqs:
        try:
            s = junk_socket(w.port, T)
            s.sendall(data)
        except OSError:
            refused += 1
            continue
        s.setblocking(False)
        ctx.socks.append(s)
        socks[s.fileno()] = [s, b""]
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
    t_sent = time.monotonic() - t0
    lookups_then = w.reg.lookups()

    stop = threading.Event()

    def reader():
        while not stop.is_set() and socks:
            for fd, ev in ep.poll(0.1):
                ent = socks.get(fd)
                if ent is None:
                    continue
                try:
                    chunk = ent[0].recv(65536)
                except OSError:
                    chunk = b""
                ent[1] += chunk
                p = parse_response(ent[1]) if chunk else None
                if p is not None or not chunk:
                    st = p[0] if p is not None else "closed"
                    answers[st] = answers.get(st, 0) + 1
                    ep.unregister(fd)
                    del socks[fd]

    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    t1 = time.monotonic()
    try:
        r = w.post(legit[0], legit[2], timeout=NEW_PEER_S + T)
        why = what(r)
    except OSError as e:
        r, why = None, "no answer within %.0f s (%s)" % (NEW_PEER_S + T, e)
    new_s = time.monotonic() - t1
    lookups_by_now = w.reg.lookups()
    # By now the first answers ("not found") have landed in the cache.
    time.sleep(max(0, t0 + REGISTRY_DELAY_S + 1.0 - time.monotonic()))
    t2 = time.monotonic()
    try:
        r2 = w.post(known[0], known[2], timeout=SIGNED_ACK_S + T)
        why2 = what(r2)
    except OSError as e:
        r2, why2 = None, "no answer (%s)" % e
    known_s = time.monotonic() - t2
    stop.set()
    rt.join(2)
    ep.close()
    fig("registry flood: %d junk requests with random keyIds from %s sent "
        "in %.1f s (%d connections refused); registry lookups: %d when the "
        "flood was sent, %d when the new peer was answered", RANDOM_KEYIDS,
        JUNK_SOURCE, t_sent,
        refused, lookups_then, lookups_by_now)
    fig("registry flood: new peer (key not cached, 2 s registry): %s in "
        "%.2f s (bound %.0f s)", "ACK" if r is not None and is_ack(r)
        else why, new_s, NEW_PEER_S)
    fig("registry flood: cached peer %.1f s into the flood (registry."
        "cache_size %d): %s in %.2f s; junk answers so far: %s",
        t2 - t0, FLOOD_CACHE_SIZE,
        "ACK" if r2 is not None and is_ack(r2) else why2, known_s,
        ", ".join("%s: %d" % kv for kv in sorted(answers.items(),
                                                  key=str)) or "none")
    check(w.d.alive(), "becknd died (exit %s)", w.d.proc.poll())
    check(r is not None and is_ack(r), "a new legitimate peer got %s after "
          "%.2f s behind %d lookups of random keyIds", why, new_s,
          RANDOM_KEYIDS)
    check(new_s <= NEW_PEER_S, "a new legitimate peer was verified after "
          "%.2f s (bound %.0f s) behind %d lookups of random keyIds", new_s,
          NEW_PEER_S, RANDOM_KEYIDS)
    check(r2 is not None and is_ack(r2) and known_s <= SIGNED_ACK_S,
          "a peer whose key was cached before the flood got %s after %.2f s "
          "(bound %.1f s): 'not found' answers evicted its key", why2,
          known_s, SIGNED_ACK_S)


# ============================================================================
# 4. poison message: dead-lettered after max_attempts, others flow
# ============================================================================

@test("poison: a message the app answers 500 to is dead-lettered after "
      "delivery.max_attempts (%d) while %d others to the same participant "
      "are delivered" % (MAX_ATTEMPTS, 30), deadline=60)
def t_poison(ctx):
    poison_mid = new_id()

    def script(req, n):
        if req.context().get("message_id") == poison_mid:
            return 500, 0, None
        return 200, 0, None

    app = ScriptedApp("bpp-app", script)
    w = BppWorld(ctx, {K_MAX_ATTEMPTS: str(MAX_ATTEMPTS), K_RETRIES: None,
                       K_BACKOFF: "100ms", K_BACKOFF_MAX: "200ms",
                       K_WEBHOOK_TIMEOUT: "2s"}, app=app)
    body, c, auth = w.signed(message_id=poison_mid)
    others = w.sign_many(30)
    t0 = time.monotonic()
    r = w.post(body, auth)
    check(is_ack(r), "the poison message was not ACKed: %s", what(r))
    acked = 0
    lat = []
    for ob, oc, oa in others:
        ro = w.post(ob, oa)
        if is_ack(ro):
            acked += 1
        time.sleep(0.02)
    for ob, oc, oa in others:
        got = app.wait_for(by_mid(oc["message_id"]), T)
        if got:
            lat.append(got[0].time)
    delivered = len(lat)
    # Attempts settle: no new attempt for a few backoffs.
    deadline = time.monotonic() + 3 * T
    last = -1
    while time.monotonic() < deadline:
        n = len(app.find(by_mid(poison_mid)))
        if n == last and n >= MAX_ATTEMPTS:
            break
        last = n
        time.sleep(0.6 * SLOW)
    attempts = len(app.find(by_mid(poison_mid)))
    dl = w.d.wait_log(r"(?i)%s.*%s|%s.*%s" % (DEAD_LETTER_RX, poison_mid,
                                              poison_mid, DEAD_LETTER_RX),
                      T)
    dups = sum(1 for ob, oc, oa in others
               if len(app.find(by_mid(oc["message_id"]))) > 1)
    fig("poison: %d attempts at the app (max_attempts %d), %s; others: %d "
        "ACKed, %d of %d delivered (%d more than once), last delivered "
        "%.2f s after the poison message", attempts, MAX_ATTEMPTS,
        "dead-letter logged" if dl else "no dead-letter log line",
        acked, delivered, len(others), dups,
        (max(lat) - t0) if lat else -1)
    check(acked == len(others), "only %d of %d messages after the poison "
          "one were ACKed", acked, len(others))
    check(delivered == len(others), "only %d of %d messages to the same "
          "participant were delivered while the poison message was retried",
          delivered, len(others))
    check(attempts == MAX_ATTEMPTS, "the poison message was tried %d times "
          "(delivery.max_attempts %d)", attempts, MAX_ATTEMPTS)
    check(dl is not None, "no log line names the poison message (%s) as "
          "dead-lettered (pattern %r)", poison_mid, DEAD_LETTER_RX)


# ============================================================================
# 5. a webhook slower than webhook_timeout: same Idempotency-Key
# ============================================================================

@test("idempotency: a webhook slower than delivery.webhook_timeout sees "
      "the same Idempotency-Key and X-Beckn-Message-Id on each retry",
      deadline=60)
def t_idempotency(ctx):
    def script(req, n):
        return 200, (1.0 if n <= 2 else 0), None

    app = ScriptedApp("bpp-app", script)
    w = BppWorld(ctx, {K_WEBHOOK_TIMEOUT: "500ms", K_BACKOFF: "100ms",
                       K_BACKOFF_MAX: "200ms"}, app=app)
    body, c, auth = w.signed()
    mid, tid = c["message_id"], c["transaction_id"]
    r = w.post(body, auth)
    check(is_ack(r), "select not ACKed: %s", what(r))
    got = app.wait_for(by_mid(mid), 4 * T, count=3)
    time.sleep(0.3)
    got = app.find(by_mid(mid))
    keys = [g.header(H_IDEMPOTENCY) for g in got]
    mids = [g.header(H_MESSAGE_ID) for g in got]
    tids = [g.header(H_TRANSACTION_ID) for g in got]
    action_hdrs = sorted({k for g in got for k, v in g.headers
                          if k.lower().startswith("x-beckn-") and
                          v == "select"})
    fig("idempotency: %d attempts (webhook_timeout 500 ms, the app takes "
        "1 s twice); %s: %s; %s: %s; %s: %s; action in %s",
        len(got), H_IDEMPOTENCY, keys, H_MESSAGE_ID,
        ["=message_id" if m == mid else m for m in mids], H_TRANSACTION_ID,
        ["=transaction_id" if t == tid else t for t in tids],
        action_hdrs or "no X-Beckn-* header")
    check(len(got) >= 3, "the webhook saw %d attempts, want 3 (two timed "
          "out)", len(got))
    check(all(keys) and len(set(keys)) == 1, "the webhook saw %s: %r on "
          "the attempts of one message, want one stable value", H_IDEMPOTENCY,
          keys)
    check(all(m == mid for m in mids), "%s on the attempts: %r, want %s",
          H_MESSAGE_ID, mids, mid)
    check(all(t == tid for t in tids), "%s on the attempts: %r, want %s",
          H_TRANSACTION_ID, tids, tid)
    check(action_hdrs, "no X-Beckn-* header carries the action (select)")


@test("delivery: a 302 from the webhook is retried (only 2xx counts as "
      "delivered)", deadline=30)
def t_redirect(ctx):
    def script(req, n):
        return (302 if n == 1 else 200), 0, None

    app = ScriptedApp("bpp-app", script)
    w = BppWorld(ctx, {K_BACKOFF: "100ms", K_BACKOFF_MAX: "200ms"}, app=app)
    body, c, auth = w.signed()
    r = w.post(body, auth)
    check(is_ack(r), "select not ACKed: %s", what(r))
    got = app.wait_for(by_mid(c["message_id"]), T, count=2)
    fig("delivery: %d attempt(s) after a 302", len(got))
    check(len(got) >= 2, "the webhook answered 302 and saw %d attempt(s): "
          "a redirect counted as delivered", len(got))


# ============================================================================
# 6. two tenants: A's webhook never answers, B's calls stay fast
# ============================================================================

@test("tenants: tenant A's webhook holds every request; tenant B's client "
      "call and webhook delivery are answered within %.0f s" % TENANT_S,
      deadline=90, load=True)
def t_tenants(ctx):
    reg = ctx.registry(0)
    hold = ctx.event()
    a_app = ctx.server(ScriptedApp("a-app", lambda req, n: (200, 0, hold)))
    b_app = ctx.server(ScriptedApp("b-app"))
    stub = ctx.server(StubServer("stub-bpp"))
    pa = ctx.party("a.test", "BPP")
    pb = ctx.party("b.test", "BAP")
    pp = ctx.party("p.test", "BAP")
    ps = ctx.party("sbpp.test", "BPP", stub.url + "/sbpp")
    common = {K_PER_CLIENT: PER_CLIENT_OFF}
    duo = ctx.daemon("duo", [
        {"party": pa, "role": "bpp", "webhook": a_app.url + "/a/{action}"},
        {"party": pb, "role": "bap", "webhook": b_app.url + "/b/{action}"}],
        reg, dict(common, **{K_WEBHOOK_TIMEOUT: "30s",
                             K_UPSTREAM_TIMEOUT: "10s"}))
    flood = ctx.daemon("flooder", [
        {"party": pp, "role": "bap",
         "webhook": "http://127.0.0.1:9/p/{action}"}], reg, common)
    a_url = "http://127.0.0.1:%d/a" % duo.net_port
    b_url = "http://127.0.0.1:%d/b" % duo.net_port
    reg.records = [pa.record(a_url), pb.record(b_url),
                   pp.record("http://127.0.0.1:%d/p" % flood.net_port),
                   ps.record()]

    def b_select(timeout):
        body = {"context": {"bpp_id": ps.sid, "bpp_uri": ps.url},
                "message": fixture_message("select")}
        t = time.monotonic()
        try:
            r = http(duo.client_port, "POST", "/b/select", compact(body),
                     timeout=timeout)
            w = "ACK" if is_ack(r) else what(r)
        except OSError as e:
            r, w = None, "no answer within %.0f s (%s)" % (timeout, e)
        return r, w, time.monotonic() - t

    r, w0, base_s = b_select(T)
    check(r is not None and is_ack(r), "B's select before the flood: %s",
          w0)

    def flood_one(i):
        body = {"context": {"bpp_id": pa.sid, "bpp_uri": a_url},
                "message": fixture_message("select")}
        try:
            r = http(flood.client_port, "POST", "/p/select", compact(body),
                     timeout=T)
            return is_ack(r)
        except OSError:
            return False

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        acks = sum(ex.map(flood_one, range(TENANT_FLOOD)))
    t_flood = time.monotonic() - t0
    held, last = 0, -1
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        held = len(a_app.requests)
        if held == last:
            break
        last = held
        time.sleep(0.5)
    r, why, b_s = b_select(TENANT_S + 2)

    # A callback to B through the network listener: B's webhook gets it.
    cb, c = request_body("on_select", pb, ps, bap_uri=b_url)
    cb_auth = ctx.tool.sign(cb, ps.priv, ps.sid, ps.kid)
    t1 = time.monotonic()
    rc = http(duo.net_port, "POST", "/b/on_select", cb,
              {"Authorization": cb_auth}, timeout=T)
    got = b_app.wait_for(by_mid(c["message_id"]), TENANT_S + 2)
    d_s = (got[0].time - t1) if got else None
    fig("tenants: %d selects to A ACKed of %d in %.1f s; A's webhook holds "
        "%d requests", acks, TENANT_FLOOD, t_flood, held)
    fig("tenants: B's client select: %.2f s before the flood, %s in %.2f s "
        "during it (bound %.0f s)", base_s, why, b_s, TENANT_S)
    fig("tenants: B's webhook got an on_select %s (network answer %s)",
        "in %.2f s" % d_s if d_s is not None else
        "not within %.0f s" % (TENANT_S + 2), "ACK" if is_ack(rc)
        else what(rc))
    check(acks >= TENANT_FLOOD * 9 // 10, "only %d of %d selects to A were "
          "ACKed", acks, TENANT_FLOOD)
    check(r is not None and is_ack(r) and b_s <= TENANT_S,
          "with tenant A's webhook holding %d requests, tenant B's client "
          "select got %s after %.2f s (bound %.0f s)", held, why, b_s,
          TENANT_S)
    check(is_ack(rc), "B's network listener answered the on_select with %s",
          what(rc))
    check(d_s is not None and d_s <= TENANT_S, "with tenant A's webhook "
          "holding %d requests, tenant B's webhook %s", held,
          "got the on_select after %.2f s" % d_s if d_s is not None else
          "did not get the on_select within %.0f s" % (TENANT_S + 2))


# ============================================================================
# 7. strict JSON: duplicate keys and invalid UTF-8, validly signed
# ============================================================================

def search_bytes(w, name=b"machine learning"):
    """A search body with message.intent.item.descriptor.name = name (raw
    bytes)."""
    body, c = request_body("search", w.bap, w.bpp)
    body = body.replace(b'"name":"machine learning"', b'"name":"' + name +
                        b'"', 1)
    return body, c


@test("strict JSON: duplicate keys and invalid UTF-8 (validly signed) are "
      "400 with error.paths naming the object / the string", deadline=60)
def t_strict_json(ctx):
    w = BppWorld(ctx)
    body, c = search_bytes(w)
    r = w.post(body, ctx.tool.sign(body, w.bap.priv, w.bap.sid, w.bap.kid),
               "search")
    check(is_ack(r), "control: the well-formed search got %s", what(r))
    name_path = "/message/intent/item/descriptor/name"
    cases = []
    b, c = request_body("search", w.bap, w.bpp)
    b = b.replace(b'{"context":{', b'{"context":{"bap_id":"evil.test",', 1)
    cases.append(("duplicate bap_id in context (first evil.test, last "
                  "bap.test)", b, c, "/context", b'"bap_id":"evil.test"'))
    b, c = request_body("search", w.bap, w.bpp)
    b = b.replace(b'"item":{', b'"item":{"descriptor":{"name":"shadow"},',
                  1)
    cases.append(("duplicate descriptor in message.intent.item", b, c,
                  "/message/intent/item", b'"shadow"'))
    for label, raw in (("byte 0xff", b"machine \xff learning"),
                       ("overlong /", b"machine \xc0\xaf learning"),
                       ("UTF-16 surrogate", b"machine \xed\xa0\x80"),
                       ("truncated sequence", b"machine \xe2\x82"),
                       ("over U+10FFFF", b"\xf4\x90\x80\x80")):
        b, c = search_bytes(w, raw)
        cases.append(("invalid UTF-8 (%s) in descriptor.name" % label, b, c,
                      name_path, b'"name":"' + raw + b'"'))
    for label, b, c, path, marker in cases:
        check(marker in b, "could not build the body for %s", label)
    signed = []
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        auths = list(ex.map(lambda x: ctx.tool.sign(
            x[1], w.bap.priv, w.bap.sid, w.bap.kid), cases))
    bad = []
    for (label, b, c, path, marker), a in zip(cases, auths):
        r = w.post(b, a, "search")
        err, paths = nack_paths(r)
        ok = r.status == 400 and path in (paths or []) and \
            (err or {}).get("code") == "30000"
        fig("strict JSON: %s: HTTP %d, error.paths %r%s", label, r.status,
            (err or {}).get("paths"), "" if ok else "  <-- want 400 30000 "
            "naming %s" % path)
        signed.append(c["message_id"])
        if not ok:
            bad.append("%s: %s (want 400, code 30000, paths naming %s)" % (
                label, what(r), path))
    time.sleep(0.3 * SLOW)
    leaked = [m for m in signed if w.app.find(by_mid(m))]
    check(not bad, "; ".join(bad))
    check(not leaked, "%d refused message(s) reached the webhook",
          len(leaked))


# ============================================================================
# 8. routing safety: a subscriber_url leading to the own client listener
# ============================================================================

@test("routing: a registered subscriber_url equal to becknd's own client "
      "listener is refused (400) and nothing is posted back into becknd",
      deadline=60)
def t_routing_self(ctx):
    reg = ctx.registry(0)
    app = ctx.server(ScriptedApp("bap-app"))
    bap = ctx.party("lb.test", "BAP")
    d = ctx.daemon("bap", [{"party": bap, "role": "bap",
                            "webhook": app.url + "/lb/{action}"}], reg)
    selves = [("127.0.0.1", ctx.party("self.test", "BPP")),
              ("localhost", ctx.party("self2.test", "BPP"))]
    gw = ctx.party("selfgw.test", "BG")
    reg.records = [bap.record("http://127.0.0.1:%d/lb" % d.net_port)]
    for host, p in selves:
        p.url = "http://%s:%d/lb" % (host, d.client_port)
        reg.records.append(p.record())
    gw.url = "http://127.0.0.1:%d/lb" % d.client_port
    reg.records.append(gw.record())
    bad = []
    mids = []
    mark = d.mark()
    for host, p in selves:
        mid = new_id()
        mids.append(mid)
        body = {"context": {"bpp_id": p.sid, "bpp_uri": p.url,
                            "message_id": mid},
                "message": fixture_message("select")}
        r = http(d.client_port, "POST", "/lb/select", compact(body))
        err, paths = nack_paths(r)
        fig("routing: select to %s (registered at the own client listener "
            "%s): HTTP %d %s", p.sid, p.url, r.status,
            (err or {}).get("message", "")[:120])
        if r.status != 400:
            bad.append("select to %s at %s: %s, want 400" % (p.sid, p.url,
                                                              what(r)))
    mid = new_id()
    mids.append(mid)
    body = {"context": {"message_id": mid},
            "message": fixture_message("search")}
    r = http(d.client_port, "POST", "/lb/search", compact(body))
    fig("routing: search whose only gateway is the own client listener: "
        "HTTP %d %s", r.status, r.body[:160].decode("utf-8", "replace"))
    if is_ack(r):
        bad.append("search via a gateway at the own client listener: ACK")
    time.sleep(0.5 * SLOW)
    msgs = d.messages(mark)
    per_mid = {m: sum(1 for x in msgs if x.startswith("client:") and m in x)
               for m in mids}
    net_lines = [x for x in msgs if x.startswith("network:")]
    fig("routing: client-listener log lines per message %s, network lines "
        "%d, requests at the app %d", list(per_mid.values()),
        len(net_lines), len(app.requests))
    loops = [m for m, n in per_mid.items() if n > 1]
    if loops:
        bad.append("becknd posted %d message(s) back into its own client "
                   "listener (%s)" % (len(loops), [per_mid[m] for m in
                                                   loops]))
    check(not bad, "; ".join(bad))


@test("routing: bpp_uri paths compare byte-exactly (/BPP is not /bpp)",
      deadline=30)
def t_routing_case(ctx):
    reg = ctx.registry(0)
    stub = ctx.server(StubServer("stub-bpp"))
    bap = ctx.party("lc.test", "BAP")
    bpp = ctx.party("cbpp.test", "BPP", stub.url + "/cbpp")
    d = ctx.daemon("bap", [{"party": bap, "role": "bap",
                            "webhook": "http://127.0.0.1:9/lc/{action}"}],
                   reg)
    reg.records = [bap.record(), bpp.record()]
    body = {"context": {"bpp_id": bpp.sid, "bpp_uri": stub.url + "/CBPP"},
            "message": fixture_message("select")}
    r = http(d.client_port, "POST", "/lc/select", compact(body))
    fig("routing: bpp_uri %s/CBPP for a BPP registered at %s: %s",
        stub.url, bpp.url, "HTTP %d" % r.status)
    check(r.status == 400, "a bpp_uri differing from the registered "
          "subscriber_url only in case was accepted: %s", what(r))
    check(not stub.requests, "the BPP got %d request(s)", len(stub.requests))


# ============================================================================
# 9. strict HTTP bytes
# ============================================================================

@test("strict HTTP: junk after a chunk size is 400", deadline=30)
def t_chunk_junk(ctx):
    w = BppWorld(ctx)
    out = []
    for label, fmt in (("control 'N'", b"%x"), ("'Nzz'", b"%xzz"),
                       ("'N zz'", b"%x zz")):
        body, c, auth = w.signed()
        data = head("POST", "/bpp/select",
                    [("Content-Type", "application/json"),
                     ("Authorization", auth),
                     ("Transfer-Encoding", "chunked")])
        data += (fmt % len(body)) + b"\r\n" + body + b"\r\n0\r\n\r\n"
        r = raw_request(w.port, data)
        out.append((label, r, c))
        fig("strict HTTP: chunk size line %s: %s", label,
            "no answer" if r is None else "HTTP %d" % r.status)
    check(out[0][1] is not None and is_ack(out[0][1]), "control: a chunked "
          "signed select got %s", what(out[0][1]))
    bad = ["%s: %s" % (label, what(r)) for label, r, c in out[1:]
           if r is None or r.status != 400]
    check(not bad, "junk after a chunk size was not refused with 400: %s",
          "; ".join(bad))


@test("strict HTTP: a duplicate Authorization, X-Gateway-Authorization or "
      "Proxy-Authorization header is 400", deadline=30)
def t_duplicate_auth(ctx):
    w = BppWorld(ctx)
    bad = []
    other, _ = forged_auth(ctx.tool, w.bap.sid, w.bap.kid)
    for label, action, dup in (
            ("Authorization twice (same value)", "select",
             lambda a: [("Authorization", a), ("Authorization", a)]),
            ("Authorization twice (second forged)", "select",
             lambda a: [("Authorization", a), ("Authorization", other)]),
            ("X-Gateway-Authorization twice", "search",
             lambda a: [("Authorization", a),
                        ("X-Gateway-Authorization", other),
                        ("X-Gateway-Authorization", other)]),
            ("Proxy-Authorization twice", "search",
             lambda a: [("Authorization", a),
                        ("Proxy-Authorization", other),
                        ("Proxy-Authorization", other)])):
        body, c, auth = w.signed(action)
        data = head("POST", "/bpp/%s" % action,
                    [("Content-Type", "application/json")] + dup(auth),
                    len(body)) + body
        r = raw_request(w.port, data)
        fig("strict HTTP: %s: %s", label, "no answer" if r is None else
            "HTTP %d" % r.status)
        if r is None or r.status != 400:
            bad.append("%s: %s" % (label, what(r)))
    check(not bad, "duplicate authorization headers not refused with 400: "
          "%s", "; ".join(bad))


@test("strict HTTP: %d pipelined requests then a half-close: all answered"
      % PIPELINED, deadline=30)
def t_pipelined(ctx):
    w = BppWorld(ctx)
    # Each has an unknown keyId, so each waits for a registry lookup (its
    # answer, 401, comes later than the next request's bytes).
    body, c = request_body("select", w.bap, w.bpp)
    template = None
    data = b""
    for i in range(PIPELINED):
        a, template = forged_auth(ctx.tool, "pipe%d.test" % i, "k", template)
        data += head("POST", "/bpp/select",
                     [("Content-Type", "application/json"),
                      ("Authorization", a)], len(body)) + body
    s = socket.create_connection(("127.0.0.1", w.port), timeout=T)
    ctx.socks.append(s)
    t0 = time.monotonic()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    buf = b""
    deadline = time.monotonic() + 2 * T
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(1 << 16)
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        buf += chunk
    statuses = {}
    n = 0
    while True:
        p = parse_response(buf)
        if p is None:
            break
        n += 1
        statuses[p[0]] = statuses.get(p[0], 0) + 1
        buf = p[3]
    fig("strict HTTP: %d pipelined requests + half-close: %d answered in "
        "%.2f s (%s)", PIPELINED, n, time.monotonic() - t0,
        ", ".join("HTTP %d: %d" % kv for kv in sorted(statuses.items())))
    check(n == PIPELINED, "only %d of %d pipelined requests were answered "
          "after the client half-closed", n, PIPELINED)


@test("strict HTTP: after a 413 the connection is closed promptly, even "
      "while the client keeps sending", deadline=30)
def t_413_close(ctx):
    w = BppWorld(ctx, {K_BODY_MAX: "64KiB"})
    s = socket.create_connection(("127.0.0.1", w.port), timeout=T)
    ctx.socks.append(s)
    s.sendall(head("POST", "/bpp/select",
                   [("Content-Type", "application/json"),
                    ("Authorization", "x")], 64 << 20) + b"[" * 1024)
    r = read_response(s, T)
    check(r is not None and r.status == 413, "64 MiB Content-Length over "
          "body_max 64KiB got %s", what(r))
    t0 = time.monotonic()
    closed = None
    limit = 3.0 * SLOW
    s.setblocking(False)
    while time.monotonic() - t0 < limit:
        try:
            s.send(b"[" * 64)
        except OSError:
            closed = time.monotonic() - t0
            break
        try:
            if s.recv(1 << 16) == b"":
                closed = time.monotonic() - t0
                break
        except BlockingIOError:
            pass
        except OSError:
            closed = time.monotonic() - t0
            break
        time.sleep(0.05)
    fig("strict HTTP: connection closed %s after the 413 while the client "
        "dripped bytes", "%.2f s" % closed if closed is not None else
        "not within %.0f s" % limit)
    check(closed is not None and closed <= 1.0 * SLOW, "after a 413 the "
          "client held the connection by dripping bytes (%s)",
          "closed after %.2f s" % closed if closed is not None else
          "open after %.0f s" % limit)


# ============================================================================

def main():
    global TOOL, TMP
    if not os.access(BIN, os.X_OK):
        log("abuse: %s is not an executable becknd (set BECKND_BIN)" % BIN)
        log("abuse: 0 passed, 1 failed")
        return 1
    if not os.path.isdir(FIXTURES):
        log("abuse: fixtures %s missing (set BECKND_SRCDIR)" % FIXTURES)
        log("abuse: 0 passed, 1 failed")
        return 1
    nofile = raise_nofile()
    if ASAN:
        opts = os.environ.get("ASAN_OPTIONS", "")
        if "quarantine_size_mb" not in opts:
            os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
                "quarantine_size_mb=%d" % ASAN_QUARANTINE_MIB
    TOOL = Tool(BIN, WRAPPER)
    TMP = tempfile.mkdtemp(prefix="becknd-abuse-")
    started = time.monotonic()
    done = threading.Event()

    def watchdog():
        if done.wait(WATCHDOG):
            return
        log("FAIL: watchdog: the suite ran past %.0f s; stopping" % WATCHDOG)
        log("abuse: %d passed, %d failed" % (RESULTS["pass"],
                                             RESULTS["fail"] + 1))
        os._exit(1)

    threading.Thread(target=watchdog, daemon=True).start()
    log("abuse: becknd %s%s%s, RLIMIT_NOFILE %d, sources %s" % (
        BIN, " under " + " ".join(WRAPPER) if WRAPPER else "",
        " (AddressSanitizer)" if ASAN else "", nofile, SRCDIR))
    try:
        for name, fn, deadline, load in TESTS:
            run_one(name, fn, deadline, load)
    except KeyboardInterrupt:
        RESULTS["fail"] += 1
        log("FAIL: interrupted")
    finally:
        done.set()
        if os.environ.get("BECKND_ABUSE_KEEP"):
            log("abuse: kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    log("abuse: runtime %.1fs" % (time.monotonic() - started))
    summary = "abuse: %d passed, %d failed" % (RESULTS["pass"],
                                              RESULTS["fail"])
    if RESULTS["skip"]:
        summary += ", %d skipped" % RESULTS["skip"]
    log(summary)
    return 1 if RESULTS["fail"] else 0


def on_sigterm(sig, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    sys.exit(main())
