#!/usr/bin/env python3
"""becknd black-box suite: real becknd processes, stub apps, a stub gateway
and a file registry, all on 127.0.0.1, asserting what users see.

    BECKND_BIN=/path/to/becknd BECKND_SRCDIR=/path/to/source \\
        python3 tests/blackbox/run.py [-v] [-k SUBSTRING]

Environment:
  BECKND_BIN              the becknd binary (make check sets it)
  BECKND_SRCDIR           the source tree (schemas/, tests/blackbox/)
  BECKND_WRAPPER          e.g. "valgrind --error-exitcode=99
                          --leak-check=full --errors-for-leak-kinds=definite
                          -q": daemons and `-t` checks run under it
  BECKND_BLACKBOX_SLOW    time factor for waits (default 1, 6 with a wrapper)
  BECKND_BLACKBOX_KEEP=1  keep the temporary folder (configs, logs)
  BX_SHOW_NACKS=1         print every NACK the negative tests received
  BECKND_BLACKBOX_SKIP    comma-separated name substrings: those tests are
                          reported as skipped (e.g. while a known bug is
                          being fixed)

Topology (see README.md in this folder):

  BAP app --client--> [becknd BAP] --net--> tap --> [becknd BPP] --> BPP app
  BAP app <--webhook- [becknd BAP] <-- tap <--net-- [becknd BPP] <--client--
                             \\--search--> stub gateway --> BPP, BPP2

The last line is "blackbox: N passed, M failed[, K skipped]"; the exit
status is 0 only when nothing failed.
"""

import sys
sys.dont_write_bytecode = True

import base64
import copy
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bxlib  # noqa: E402
from bxlib import (App, BxError, Daemon, Gateway, StubServer, Tap, Tool,  # noqa: E402
                   by_mid, compact, http, new_id, raw_context, rfc3339,
                   RFC3339_RX, UUID_RX, ISO_DURATION_RX)

DOMAIN = "onest:learning-experiences"
SIG_HEADERS = '"(created) (expires) digest"'

# --- settings ------------------------------------------------------------------

SRCDIR = os.environ.get("BECKND_SRCDIR") or \
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BECKND_BIN") or os.path.join(
    os.environ.get("BECKND_BUILDDIR", os.getcwd()), "becknd")
WRAPPER = bxlib.wrapper_argv()
WRAPPER_RC = bxlib.wrapper_error_code(WRAPPER)
SLOW = float(os.environ.get("BECKND_BLACKBOX_SLOW") or (6 if WRAPPER else 1))
T = 5.0 * SLOW				# ordinary waits for something to arrive
START_T = 15.0 * SLOW			# a daemon's start
WATCHDOG = float(os.environ.get("BECKND_BLACKBOX_TIMEOUT") or
                 (240 if not WRAPPER else 240 * SLOW))
FIXTURES = os.path.join(SRCDIR, "tests", "blackbox", "fixtures")
SCHEMAS = [os.path.join(SRCDIR, "schemas", "core", "transaction.yaml"),
           os.path.join(SRCDIR, "schemas", "core", "meta.yaml"),
           os.path.join(SRCDIR, "schemas", "onest", "onest-policy.yaml")]
VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
SKIP = [x.strip() for x in
        (os.environ.get("BECKND_BLACKBOX_SKIP") or "").split(",") if x.strip()]

PAIRS = [("search", "on_search"), ("select", "on_select"), ("init", "on_init"),
         ("confirm", "on_confirm"), ("status", "on_status"),
         ("track", "on_track"), ("update", "on_update"),
         ("cancel", "on_cancel"), ("rating", "on_rating"),
         ("support", "on_support"),
         ("get_cancellation_reasons", "cancellation_reasons"),
         ("get_rating_categories", "rating_categories")]


from bxlib import Fail, Skip, check, eq, log  # noqa: E402


def fixture(action):
    with open(os.path.join(FIXTURES, action + ".json")) as f:
        return json.load(f)


def fixture_message(action):
    return copy.deepcopy(fixture(action).get("message"))


# --- the world: processes, servers, files ----------------------------------------

class World:
    def __init__(self):
        self.tool = Tool(BIN, WRAPPER)
        self.tmp = tempfile.mkdtemp(prefix="becknd-blackbox-")
        self.daemons = []
        self.servers = []
        self.net = None			# the main network, set up on demand
        self.net_error = None

    def daemon(self, name, conf):
        d = Daemon(name, self.tool, conf, self.tmp, WRAPPER)
        self.daemons.append(d)
        return d.start(START_T)

    def server(self, s):
        self.servers.append(s)
        return s

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def cleanup(self):
        for d in self.daemons:
            try:
                d.stop(10 * SLOW)
            except Exception:
                d.kill()
            d.close()
        for s in self.servers:
            try:
                s.stop()
            except Exception:
                pass
        if os.environ.get("BECKND_BLACKBOX_KEEP"):
            log("blackbox: kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


W = None


def yq(s):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


_stores = [0]


def config_text(participants, registry, body_max="64KiB", extra="",
                retries="0", store=None):
    """A becknd configuration; retries None leaves delivery.retries at
    its default.  store: the store.path (None: a new file in the test's
    folder; "off": store: off)."""
    if store is None:
        _stores[0] += 1
        store = W.path("store-%d.db" % _stores[0])
    lines = [
        "# generated by tests/blackbox/run.py",
        "listen:",
        "  network: \"127.0.0.1:0\"",
        "  client: \"127.0.0.1:0\"",
        "registry:",
        "  file: %s" % yq(registry),
        "schemas:",
    ] + ["  - %s" % yq(s) for s in SCHEMAS] + [
        "security:",
        "  clock_skew: 5s",
        "  replay_window: 10m",
        "limits:",
        "  body_max: %s" % body_max,
        "delivery:",
        "  backoff: 100ms",
        "  backoff_max: 500ms",
    ] + (["  retries: %s" % retries] if retries is not None else []) + [
        "  webhook_timeout: 5s",
        "  shutdown_timeout: 5s",
        "log:",
        "  level: info",
    ] + (["store: off"] if store == "off" else
         ["store:", "  path: %s" % yq(store)])
    if extra:
        lines += extra.rstrip("\n").split("\n")
    lines.append("participants:")
    for p in participants:
        lines.append("  - subscriber_id: %s" % yq(p["subscriber_id"]))
        for k in ("key_id", "role", "private_key", "private_key_file",
                  "subscriber_url", "webhook"):
            if k in p:
                lines.append("    %s: %s" % (k, yq(p[k])))
        lines.append("    domains: [%s]" % yq(DOMAIN))
    return "\n".join(lines) + "\n"


def registry_record(sid, url, typ, key_id, pub):
    now = time.time()
    return {"subscriber_id": sid, "subscriber_url": url, "type": typ,
            "domain": DOMAIN, "ukId": key_id, "signing_public_key": pub,
            "status": "SUBSCRIBED", "valid_from": rfc3339(now - 86400),
            "valid_until": rfc3339(now + 365 * 86400)}


class Party:
    def __init__(self, sid, kid, priv, pub):
        self.sid, self.kid, self.priv, self.pub = sid, kid, priv, pub


class Net:
    """Main network: BAP, BPP and BPP2 adaptors, three apps, three taps,
    a stub gateway and one registry file shared by every adaptor."""

    def __init__(self, w):
        self.w = w
        tool = w.tool
        self.bap = Party("bap.test", "bap.test.k1", *tool.keygen())
        self.bpp = Party("bpp.test", "bpp.test.k1", *tool.keygen())
        self.bpp2 = Party("bpp2.test", "bpp2.test.k1", *tool.keygen())
        self.gw = Party("gw.test", "gw.test.k1", *tool.keygen())

        self.bap_app = w.server(App("bap-app"))
        self.bpp_app = w.server(App("bpp-app"))
        self.bpp2_app = w.server(App("bpp2-app"))
        self.tap_bap = w.server(Tap("tap-bap"))
        self.tap_bpp = w.server(Tap("tap-bpp"))
        self.tap_bpp2 = w.server(Tap("tap-bpp2"))
        self.gateway = w.server(Gateway("gateway", tool, self.gw.sid,
                                        self.gw.kid, self.gw.priv))
        self.bap_url = self.tap_bap.url + "/bap"
        self.bpp_url = self.tap_bpp.url + "/bpp"
        self.bpp2_url = self.tap_bpp2.url + "/bpp2"

        self.registry = w.path("registry.json")
        self.write_registry()

        keyfile = w.write("bap.key", self.bap.priv + "\n")
        self.bap_conf = w.write("bap.yaml", config_text([{
            "subscriber_id": self.bap.sid, "key_id": self.bap.kid,
            "role": "bap", "private_key_file": keyfile,
            "subscriber_url": self.bap_url,
            "webhook": self.bap_app.url + "/bap-app/{action}"}],
            self.registry))
        self.bpp_conf = w.path("bpp.yaml")
        self.write_bpp_conf()
        self.bpp2_conf = w.write("bpp2.yaml", self.bpp2_conf_text())
        for c in (self.bap_conf, self.bpp_conf, self.bpp2_conf):
            rc, out, err = tool.run(["-c", c, "-t"], wrapped=True)
            if rc != 0:
                raise BxError("generated %s fails -t: %s%s" % (c, out, err))

        self.d_bap = w.daemon("bap", self.bap_conf)
        self.d_bpp = w.daemon("bpp", self.bpp_conf)
        self.d_bpp2 = w.daemon("bpp2", self.bpp2_conf)
        self.tap_bap.target_port = self.d_bap.net_port
        self.tap_bpp.target_port = self.d_bpp.net_port
        self.tap_bpp2.target_port = self.d_bpp2.net_port
        self.gateway.targets = [(self.d_bpp.net_port, "/bpp/search"),
                                (self.d_bpp2.net_port, "/bpp2/search")]
        self.transaction_id = None

    def write_registry(self):
        recs = [registry_record(self.bap.sid, self.bap_url, "BAP",
                                self.bap.kid, self.bap.pub),
                registry_record(self.bpp.sid, self.bpp_url, "BPP",
                                self.bpp.kid, self.bpp.pub),
                registry_record(self.bpp2.sid, self.bpp2_url, "BPP",
                                self.bpp2.kid, self.bpp2.pub),
                registry_record(self.gw.sid, self.gateway.url + "/gw", "BG",
                                self.gw.kid, self.gw.pub)]
        tmp = self.registry + ".new"
        with open(tmp, "w") as f:
            json.dump(recs, f, indent=2)
        os.rename(tmp, self.registry)

    def bpp_conf_text(self):
        return config_text([{
            "subscriber_id": self.bpp.sid, "key_id": self.bpp.kid,
            "role": "bpp", "private_key": self.bpp.priv,
            "subscriber_url": self.bpp_url,
            "webhook": self.bpp_app.url + "/bpp-app/{action}"}],
            self.registry, body_max="32KiB", store=self.w.path("bpp.db"))

    def bpp2_conf_text(self):
        return config_text([{
            "subscriber_id": self.bpp2.sid, "key_id": self.bpp2.kid,
            "role": "bpp", "private_key": self.bpp2.priv,
            "subscriber_url": self.bpp2_url,
            "webhook": self.bpp2_app.url + "/bpp2-app/{action}"}],
            self.registry, retries=None, store=self.w.path("bpp2.db"))

    def write_bpp_conf(self, text=None):
        tmp = self.bpp_conf + ".new"
        with open(tmp, "w") as f:
            f.write(text if text is not None else self.bpp_conf_text())
        os.rename(tmp, self.bpp_conf)

    # -- the apps' side -----------------------------------------------------

    def bap_call(self, action, ctx=None, message=None, query="", conn=None,
                 timeout=None):
        """The BAP app calls its adaptor's client listener."""
        body = {"context": dict(ctx or {})}
        if message is not None:
            body["message"] = message
        return http(self.d_bap.client_port, "POST",
                    "/bap/%s%s" % (action, query), compact(body), conn=conn,
                    timeout=timeout or bxlib.HTTP_TIMEOUT)

    def peer_ctx(self, **extra):
        """What a BAP app puts in context for a BPP-addressed request."""
        c = {"bpp_id": self.bpp.sid, "bpp_uri": self.bpp_url}
        if self.transaction_id:
            c["transaction_id"] = self.transaction_id
        c.update(extra)
        return c

    def callback_ctx(self, req_ctx, action):
        """What a BPP app puts in context when it answers req_ctx."""
        c = {k: req_ctx[k] for k in ("domain", "version", "bap_id", "bap_uri",
                                    "transaction_id", "message_id")
             if k in req_ctx}
        c["action"] = action
        return c

    def bpp_callback(self, req_ctx, action, message, client_port=None,
                     path="/bpp", conn=None):
        body = {"context": self.callback_ctx(req_ctx, action)}
        if message is not None:
            body["message"] = message
        return http(client_port or self.d_bpp.client_port, "POST",
                    "%s/%s" % (path, action), compact(body), conn=conn)

    # -- hand-made signed traffic (negative tests) -------------------------

    def request_body(self, action, message=None, **ctx):
        c = {"domain": DOMAIN, "action": action, "version": "1.1.0",
             "bap_id": self.bap.sid, "bap_uri": self.bap_url,
             "bpp_id": self.bpp.sid, "bpp_uri": self.bpp_url,
             "transaction_id": new_id(), "message_id": new_id(),
             "timestamp": rfc3339(), "ttl": "PT30S"}
        c.update(ctx)
        if message is None:
            message = fixture_message(action)
        body = {"context": c}
        if message is not None:
            body["message"] = message
        return compact(body), c

    def sign(self, body, party, **kw):
        return self.w.tool.sign(body, party.priv, party.sid, party.kid, **kw)


# --- assertions shared by the tests ----------------------------------------------

def check_context(ctx, action, bap, bpp, domain=DOMAIN, with_bpp=True):
    check(isinstance(ctx, dict), "context is not an object: %r", ctx)
    need = ["domain", "action", "version", "bap_id", "bap_uri",
            "transaction_id", "message_id", "timestamp", "ttl"]
    if with_bpp:
        need += ["bpp_id", "bpp_uri"]
    missing = [k for k in need if not isinstance(ctx.get(k), str) or
               not ctx.get(k)]
    check(not missing, "context lacks %s: %s", missing, json.dumps(ctx))
    eq(ctx["domain"], domain, "context.domain")
    eq(ctx["action"], action, "context.action")
    eq(ctx["version"], "1.1.0", "context.version")
    eq(ctx["bap_id"], bap[0], "context.bap_id")
    eq(ctx["bap_uri"], bap[1], "context.bap_uri")
    if with_bpp:
        eq(ctx["bpp_id"], bpp[0], "context.bpp_id")
        eq(ctx["bpp_uri"], bpp[1], "context.bpp_uri")
    check(UUID_RX.match(ctx["message_id"]), "context.message_id %r is not a "
          "UUID", ctx["message_id"])
    check(UUID_RX.match(ctx["transaction_id"]), "context.transaction_id %r "
          "is not a UUID", ctx["transaction_id"])
    check(RFC3339_RX.match(ctx["timestamp"]), "context.timestamp %r is not "
          "RFC 3339", ctx["timestamp"])
    check(ISO_DURATION_RX.match(ctx["ttl"]), "context.ttl %r is not an ISO "
          "8601 duration", ctx["ttl"])


def check_ack(resp, what):
    check(resp.status == 200, "%s: HTTP %d, want 200: %s", what, resp.status,
          resp.body[:400])
    ct = resp.header("Content-Type") or ""
    check(ct.startswith("application/json"), "%s: Content-Type %r", what, ct)
    try:
        j = resp.json()
    except ValueError:
        raise Fail("%s: answer is not JSON: %r" % (what, resp.body[:300]))
    check(isinstance(j, dict) and "context" in j, "%s: no context in the "
          "answer: %s", what, resp.body[:400])
    eq(j.get("message"), {"ack": {"status": "ACK"}}, "%s: message" % what)
    check("error" not in j, "%s: ACK carries an error: %s", what, j.get("error"))
    eq(list(j.keys())[0], "context", "%s: first key" % what)
    return j["context"]


def check_net_ack(resp, what):
    """A network listener's ACK: exactly the core 1.1.0 body."""
    check(resp.status == 200, "%s: HTTP %d, want 200: %s", what, resp.status,
          resp.body[:400])
    eq(resp.body, b'{"message":{"ack":{"status":"ACK"}}}', "%s: body" % what)


def check_nack(resp, status, code, what, auth=None, realm=None, paths=None,
               msg_has=None):
    check(resp.status == status, "%s: HTTP %d, want %d: %s", what, resp.status,
          status, resp.body[:400])
    ct = resp.header("Content-Type") or ""
    check(ct.startswith("application/json"), "%s: Content-Type %r (body %r)",
          what, ct, resp.body[:200])
    try:
        j = resp.json()
    except ValueError:
        raise Fail("%s: answer is not JSON: %r" % (what, resp.body[:300]))
    eq(((j.get("message") or {}).get("ack") or {}).get("status"), "NACK",
       "%s: message.ack.status" % what)
    err = j.get("error")
    check(isinstance(err, dict), "%s: no error object: %s", what, j)
    check(isinstance(err.get("code"), str), "%s: error.code is not a string: "
          "%r", what, err.get("code"))
    eq(err.get("code"), code, "%s: error.code" % what)
    if auth is not None:
        want = 'Signature realm="%s",headers=%s' % (realm, SIG_HEADERS)
        eq(resp.header(auth), want, "%s: %s header" % (what, auth))
    if paths is not None:
        got = [p.strip() for p in (err.get("paths") or "").split(",")]
        for p in paths:
            check(p in got, "%s: error.paths %r does not name %s", what,
                  err.get("paths"), p)
    if os.environ.get("BX_SHOW_NACKS"):
        log("    NACK %s: %d %s %s" % (what, resp.status, json.dumps(err),
                                     [(k, v) for k, v in resp.headers]))
    if msg_has is not None:
        check(msg_has in (err.get("message") or ""), "%s: error.message %r "
              "does not mention %r", what, err.get("message"), msg_has)
    return err


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def check_hop(net, tap, app, ack_resp, action, sender, path_prefix,
              app_prefix):
    """What went over the wire through tap and what the far app received,
    for the message the near app's call (ack_resp) answered."""
    ack_ctx = ack_resp.json()["context"]
    mid = ack_ctx["message_id"]
    wire = tap.wait_for(by_mid(mid, action), T)
    check(len(wire) == 1, "%s: %d copies on the wire (want 1)", action,
          len(wire))
    wire = wire[0]
    eq(wire.method, "POST", "%s: wire method" % action)
    eq(wire.path, "%s/%s" % (path_prefix, action), "%s: wire path" % action)
    auth = wire.header("Authorization")
    check(auth is not None, "%s: no Authorization on the wire", action)
    check(('keyId="%s|%s|ed25519"' % (sender.sid, sender.kid)) in auth,
          "%s: Authorization keyId is not %s|%s: %s", action, sender.sid,
          sender.kid, auth)
    check(("headers=%s" % SIG_HEADERS) in auth, "%s: Authorization headers "
          "list: %s", action, auth)
    rc, out = net.w.tool.verify(wire.body, sender.pub, auth)
    check(rc == 0 and out == "ok", "%s: becknd verify of the wire bytes with "
          "%s's public key: %s", action, sender.sid, out)
    # The near adaptor answered its app with the context it signed.
    rw, ra = raw_context(wire.body), raw_context(ack_resp.body)
    check(rw is not None, "%s: wire body does not start with the context: "
          "%r", action, wire.body[:80])
    check(ra is not None, "%s: ACK does not start with the context", action)
    check(rw == ra, "%s: context bytes differ between the ACK and the wire:"
          "\n  ack:  %s\n  wire: %s", action, ra, rw)
    got = app.wait_for(by_mid(mid, action), T)
    check(len(got) >= 1, "%s: the far app received nothing within %.0fs",
          action, T)
    check(len(got) == 1, "%s: the far app received %d copies", action,
          len(got))
    got = got[0]
    check(got.body == wire.body, "%s: the far app's body differs from the "
          "wire bytes at offset %d (%d vs %d bytes)", action,
          first_diff(got.body, wire.body), len(got.body), len(wire.body))
    eq(got.path, "%s/%s" % (app_prefix, action), "%s: webhook path" % action)
    eq(got.header("X-Beckn-Sender"), sender.sid, "%s: X-Beckn-Sender at the "
       "app" % action)
    ct = got.header("Content-Type") or ""
    check(ct.startswith("application/json"), "%s: webhook Content-Type %r",
          action, ct)
    eq(got.context(), ack_ctx, "%s: context at the far app vs the ACK" %
       action)
    return got


# --- the runner ------------------------------------------------------------------

TESTS = []


def test(name, needs_net=True):
    def deco(fn):
        TESTS.append((name, fn, needs_net))
        return fn
    return deco


RESULTS = {"pass": 0, "fail": 0, "skip": 0, "failed": []}


def run_all():
    for name, fn, needs_net in TESTS:
        if ONLY and ONLY not in name and not name.startswith("teardown"):
            continue
        t0 = time.monotonic()
        if any(x in name for x in SKIP):
            RESULTS["skip"] += 1
            log("SKIP: %s: BECKND_BLACKBOX_SKIP" % name)
            continue
        try:
            if needs_net:
                if W.net is None and W.net_error is None:
                    try:
                        W.net = Net(W)
                    except Exception as e:
                        W.net_error = "%s: %s" % (type(e).__name__, e)
                if W.net is None:
                    raise Fail("network set-up failed: %s" % W.net_error)
            fn()
        except Skip as e:
            RESULTS["skip"] += 1
            log("SKIP: %s: %s" % (name, e))
            continue
        except Fail as e:
            RESULTS["fail"] += 1
            RESULTS["failed"].append(name)
            log("FAIL: %s: %s" % (name, e))
            continue
        except Exception as e:
            RESULTS["fail"] += 1
            RESULTS["failed"].append(name)
            log("FAIL: %s: %s: %s" % (name, type(e).__name__, e))
            if VERBOSE:
                traceback.print_exc(file=sys.stdout)
            continue
        RESULTS["pass"] += 1
        log("PASS: %s (%.2fs)" % (name, time.monotonic() - t0))


# ================================================================================
# 0. our own fixtures are valid DSEP course messages
# ================================================================================

@test("fixtures: every DSEP course body validates (becknd validate)",
      needs_net=False)
def t_fixtures():
    bad = []
    for req, cb in PAIRS:
        for a in (req, cb):
            args = ["validate"]
            for s in SCHEMAS:
                args += ["--spec", s]
            with open(os.path.join(FIXTURES, a + ".json"), "rb") as f:
                rc, out, err = W.tool.run(args + ["--action", a], f.read())
            if rc != 0 or json.loads(out or "{}").get("valid") is not True:
                bad.append("%s: rc %d %s%s" % (a, rc, out.strip(), err.strip()))
    check(not bad, "invalid fixtures:\n  " + "\n  ".join(bad))


# ================================================================================
# 5. becknd -c FILE -t
# ================================================================================

def t_conf_case(name, body_lines):
    priv, _ = W.tool.keygen()
    keyfile = W.write("t-key", priv + "\n")
    text = "\n".join(body_lines).replace("@KEYFILE@", keyfile) + "\n"
    path = W.write(name, text)
    rc, out, err = W.tool.run(["-c", path, "-t"], wrapped=True)
    return path, rc, out, err


CONF_GOOD = [
    "listen:",				# 1
    "  network: \"127.0.0.1:0\"",	# 2
    "  client: \"127.0.0.1:0\"",	# 3
    "registry:",				# 4
    "  file: registry.json",		# 5
    "delivery:",				# 6
    "  backoff: 100ms",			# 7
    "participants:",			# 8
    "  - subscriber_id: bap.test",	# 9
    "    key_id: k1",			# 10
    "    role: bap",			# 11
    "    private_key_file: @KEYFILE@",	# 12
    "    subscriber_url: http://127.0.0.1:9/bap",	# 13
    "    webhook: http://127.0.0.1:9/hook/{action}",	# 14
    "    domains: [onest:learning-experiences]",	# 15
    "schemas:",					# 16
] + ["  - %s" % yq(s) for s in SCHEMAS] + ["store: off"]


def conf_expect_error(name, lines, line_ok, reason_has):
    W.write("registry.json", "[]\n")
    path, rc, out, err = t_conf_case(name, lines)
    check(rc == 1, "exit %d, want 1 (stdout %r, stderr %r)", rc, out, err)
    first = err.strip().split("\n")[0] if err.strip() else ""
    bxlib_reports = bxlib.sanitizer_reports(err.split("\n"))
    check(not bxlib_reports, "sanitizer/valgrind report: %s", bxlib_reports)
    check(first.startswith(path + ":"), "stderr does not start with "
          "'%s:LINE: ': %r", path, err)
    rest = first[len(path) + 1:]
    num, _, reason = rest.partition(": ")
    check(num.isdigit(), "no line number after the file name: %r", first)
    check(int(num) in line_ok, "line %s, want %s: %r", num,
          " or ".join(map(str, line_ok)), first)
    for r in reason_has:
        check(r in reason, "reason %r does not mention %r", reason, r)
    check(out.strip() == "", "stdout not empty: %r", out)


@test("config -t: unknown key -> file:line: unknown key", needs_net=False)
def t_conf_unknown():
    lines = list(CONF_GOOD)
    lines.insert(3, "  netwrok: \"127.0.0.1:0\"")	# line 4
    conf_expect_error("unknown-key.yaml", lines, [4], ["unknown key",
                                                      "listen.netwrok"])


@test("config -t: bad duration -> file:line: reason", needs_net=False)
def t_conf_duration():
    lines = list(CONF_GOOD)
    lines[6] = "  backoff: 5 parsecs"		# line 7
    conf_expect_error("bad-duration.yaml", lines, [7], ["delivery.backoff",
                                                       "5 parsecs",
                                                       "duration"])


@test("config -t: missing key file -> file:line: reason", needs_net=False)
def t_conf_keyfile():
    lines = list(CONF_GOOD)
    missing = W.path("no-such-dir/bap.key")
    lines[11] = "    private_key_file: %s" % missing	# line 12
    # The participant entry (line 9) or the key's own line (12).
    conf_expect_error("missing-key.yaml", lines, [9, 12],
                      ["private_key_file", missing,
                       "No such file or directory"])


@test("config -t: out-of-range values -> file:line: key: reason",
      needs_net=False)
def t_conf_bounds():
    cases = [
        # (name, edit, line, words)
        ("backoff-0s", lambda L: L.__setitem__(6, "  backoff: 0s"), 7,
         ["delivery.backoff", "out of range"]),
        ("refresh-0", lambda L: L.insert(5, "  refresh_interval: 0"), 6,
         ["registry.refresh_interval", "out of range"]),
        ("replay-0", lambda L: L.extend(["security:",
                                          "  replay_window: 0"]),
         len(CONF_GOOD) + 2,
         ["security.replay_window", "out of range"]),
        ("retries-1000", lambda L: L.insert(7, "  retries: 1000"), 8,
         ["delivery.retries", "out of range"]),
        ("backoff-max-below", lambda L: L.insert(7, "  backoff_max: 50ms"), 8,
         ["delivery.backoff_max", "delivery.backoff"]),
    ]
    for name, edit, line, words in cases:
        lines = list(CONF_GOOD)
        edit(lines)
        conf_expect_error(name + ".yaml", lines, [line], words)


@test("config -t: a good file prints ok and exits 0", needs_net=False)
def t_conf_good():
    W.write("registry.json", "[]\n")
    path, rc, out, err = t_conf_case("good.yaml", CONF_GOOD)
    check(rc == 0, "exit %d, want 0: %s%s", rc, out, err)
    check(out.strip().endswith("ok"), "stdout %r does not say ok", out)
    check(not bxlib.sanitizer_reports(err.split("\n")), "stderr: %s", err)


# ================================================================================
# 1. the DSEP course flow through two real adaptors
# ================================================================================

def flow_step(req_action, cb_action):
    net = W.net
    if req_action == "search":
        ctx = {"bpp_id": net.bpp.sid, "bpp_uri": net.bpp_url}
    else:
        ctx = net.peer_ctx()
    r = net.bap_call(req_action, ctx, fixture_message(req_action))
    ack_ctx = check_ack(r, "BAP client %s" % req_action)
    check_context(ack_ctx, req_action, (net.bap.sid, net.bap_url),
                  (net.bpp.sid, net.bpp_url))
    if req_action == "search":
        net.transaction_id = ack_ctx["transaction_id"]
    elif net.transaction_id:
        eq(ack_ctx["transaction_id"], net.transaction_id,
           "transaction_id kept")
    got = check_hop(net, net.tap_bpp, net.bpp_app, r, req_action, net.bap,
                    "/bpp", "/bpp-app")
    # The BPP app answers through its adaptor's client listener.
    r2 = net.bpp_callback(got.context(), cb_action,
                          fixture_message(cb_action))
    cb_ctx = check_ack(r2, "BPP client %s" % cb_action)
    check_context(cb_ctx, cb_action, (net.bap.sid, net.bap_url),
                  (net.bpp.sid, net.bpp_url))
    eq(cb_ctx["message_id"], ack_ctx["message_id"], "callback message_id")
    eq(cb_ctx["transaction_id"], ack_ctx["transaction_id"],
       "callback transaction_id")
    got2 = check_hop(net, net.tap_bap, net.bap_app, r2, cb_action, net.bpp,
                     "/bap", "/bap-app")
    eq(got2.json().get("message"), fixture_message(cb_action),
       "%s message at the BAP app" % cb_action)


@test("network: BAP, BPP and BPP2 adaptors start from generated configs "
      "(each passes -t)")
def t_network():
    net = W.net
    for d in (net.d_bap, net.d_bpp, net.d_bpp2):
        check(d.alive(), "%s is not running", d.name)
        check(d.net_port and d.client_port, "%s ports %s/%s", d.name,
              d.net_port, d.client_port)


for _req, _cb in PAIRS:
    test("flow: %s -> %s" % (_req, _cb))(
        (lambda a, b: lambda: flow_step(a, b))(_req, _cb))


@test("search without bpp_uri, no gateway in the registry -> 502 NACK "
      "naming the domain", needs_net=False)
def t_no_gateway():
    tool = W.tool
    priv, pub = tool.keygen()
    bpriv, bpub = tool.keygen()
    app = W.server(App("lonely-app"))
    reg = W.path("lonely-registry.json")
    url = "http://127.0.0.1:9/lonely"
    with open(reg, "w") as f:
        json.dump([registry_record("lonely.bap.test", url, "BAP", "k1", pub),
                   registry_record("bpp.test", "http://127.0.0.1:9/bpp",
                                   "BPP", "k1", bpub)], f)
    conf = W.write("lonely.yaml", config_text([{
        "subscriber_id": "lonely.bap.test", "key_id": "k1", "role": "bap",
        "private_key": priv, "subscriber_url": url,
        "webhook": app.url + "/hook/{action}"}], reg))
    d = W.daemon("lonely-bap", conf)
    body = {"context": {}, "message": fixture_message("search")}
    r = http(d.client_port, "POST", "/lonely/search", compact(body))
    check(r.status // 100 == 5, "HTTP %d, want 502: %s", r.status, r.body)
    check_nack(r, 502, "40000", "search without a gateway", msg_has=DOMAIN)
    rc = d.stop(10 * SLOW)
    check(rc == 0, "lonely BAP exit %s", rc)


# ================================================================================
# 2. negative tests against the BPP's network listener (and the BAP)
# ================================================================================

NACKED = []	# message ids that must never reach an app


def bpp_post(body, headers, path="/bpp/select", method="POST"):
    return http(W.net.d_bpp.net_port, method, path, body, headers)


def signed(action="select", party=None, **kw):
    net = W.net
    body, ctx = net.request_body(action)
    return body, ctx, net.sign(body, party or net.bap, **kw)


@test("BPP net: tampered body -> 401 30000 + WWW-Authenticate")
def t_tampered():
    body, ctx, auth = signed()
    bad = body.replace(b"course-ml-101", b"course-ml-102")
    check(bad != body, "fixture did not change")
    NACKED.append(ctx["message_id"])
    r = bpp_post(bad, {"Authorization": auth})
    check_nack(r, 401, "30000", "tampered", auth="WWW-Authenticate",
               realm="bpp.test", msg_has="signature")


@test("BPP net: signed with another key -> 401")
def t_wrong_key():
    net = W.net
    priv, _ = W.tool.keygen()
    body, ctx = net.request_body("select")
    auth = W.tool.sign(body, priv, net.bap.sid, net.bap.kid)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}), 401, "30000",
               "wrong key", auth="WWW-Authenticate", realm="bpp.test",
               msg_has="signature")


@test("BPP net: unknown subscriber -> 401")
def t_unknown_subscriber():
    net = W.net
    priv, _ = W.tool.keygen()
    body, ctx = net.request_body("select", bap_id="ghost.test",
                                 bap_uri="http://127.0.0.1:9/ghost")
    auth = W.tool.sign(body, priv, "ghost.test", "ghost.k1")
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}), 401, "30000",
               "unknown subscriber", auth="WWW-Authenticate",
               realm="bpp.test", msg_has="ghost.test")


@test("BPP net: keyId subscriber != context.bap_id -> 401")
def t_keyid_mismatch():
    net = W.net
    # bpp2.test is registered and signs correctly, but the body says the
    # request comes from bap.test.
    body, ctx, auth = signed(party=net.bpp2)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}), 401, "30000",
               "keyId vs bap_id", auth="WWW-Authenticate", realm="bpp.test",
               msg_has="bap_id")


@test("BPP net: expired signature -> 401")
def t_expired():
    now = int(time.time())
    body, ctx, auth = signed(created=now - 900, expires=now - 600)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}), 401, "30000",
               "expired", auth="WWW-Authenticate", realm="bpp.test",
               msg_has="expired")


@test("BPP net: created in the future -> 401")
def t_future():
    now = int(time.time())
    body, ctx, auth = signed(created=now + 600, expires=now + 900)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}), 401, "30000",
               "created in the future", auth="WWW-Authenticate",
               realm="bpp.test", msg_has="future")


@test("BPP net: replay -> first 200 ACK, second 401")
def t_replay():
    net = W.net
    body, ctx, auth = signed()
    r1 = bpp_post(body, {"Authorization": auth})
    check(r1.status == 200, "first: HTTP %d: %s", r1.status, r1.body)
    eq(r1.json().get("message"), {"ack": {"status": "ACK"}}, "first answer")
    r2 = bpp_post(body, {"Authorization": auth})
    check_nack(r2, 401, "30000", "replayed", auth="WWW-Authenticate",
               realm="bpp.test", msg_has="replay")
    got = net.bpp_app.wait_for(by_mid(ctx["message_id"]), T)
    check(len(got) == 1, "the app got %d copies of the replayed message",
          len(got))
    time.sleep(0.2)
    eq(len(net.bpp_app.find(by_mid(ctx["message_id"]))), 1,
       "copies at the app after the replay")


@test("BPP net: missing Authorization -> 401 + WWW-Authenticate")
def t_no_auth():
    body, ctx = W.net.request_body("select")
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {}), 401, "30000", "no Authorization",
               auth="WWW-Authenticate", realm="bpp.test",
               msg_has="Authorization")


@test("BPP net: bad X-Gateway-Authorization -> 401 + Proxy-Authenticate")
def t_bad_gateway_header():
    net = W.net
    priv, _ = W.tool.keygen()
    body, ctx, auth = signed("search")
    gw = W.tool.sign(body, priv, net.gw.sid, net.gw.kid)
    NACKED.append(ctx["message_id"])
    r = bpp_post(body, {"Authorization": auth,
                        "X-Gateway-Authorization": gw}, path="/bpp/search")
    check_nack(r, 401, "30000", "bad gateway signature",
               auth="Proxy-Authenticate", realm="bpp.test",
               msg_has="Gateway")


@test("BPP net: invalid JSON -> 400 30000")
def t_bad_json():
    body, ctx = W.net.request_body("select")
    cut = body[:len(body) // 2]
    auth = W.net.sign(cut, W.net.bap)
    check_nack(bpp_post(cut, {"Authorization": auth}), 400, "30000",
               "invalid JSON")


@test("BPP net: schema-invalid -> 400 30000, error.paths names the pointers")
def t_schema_invalid():
    net = W.net
    msg = fixture_message("init")
    msg["order"]["items"] = "course-ml-101"
    msg["order"]["billing"]["email"] = "not-an-email"
    body, ctx = net.request_body("init", message=msg)
    auth = net.sign(body, net.bap)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}, path="/bpp/init"), 400,
               "30000", "schema-invalid",
               paths=["/message/order/items", "/message/order/billing/email"])


@test("BPP net: URL action != context.action -> 400 30000 /context/action")
def t_action_mismatch():
    net = W.net
    body, ctx = net.request_body("init")
    auth = net.sign(body, net.bap)
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth}, path="/bpp/select"),
               400, "30000", "action mismatch", paths=["/context/action"])


@test("BPP net: body over limits.body_max -> 413 Beckn NACK (JSON)")
def t_oversize():
    net = W.net
    msg = fixture_message("select")
    msg["order"]["items"][0]["descriptor"] = {"long_desc": "x" * 40000}
    body, ctx = net.request_body("select", message=msg)
    check(len(body) > 32 * 1024, "body only %d bytes", len(body))
    auth = net.sign(body, net.bap)
    NACKED.append(ctx["message_id"])
    r = bpp_post(body, {"Authorization": auth})
    check(b"<html" not in r.body.lower(), "HTML answer: %r", r.body[:200])
    check_nack(r, 413, "30000", "oversize")


@test("BPP net: GET -> 405 NACK")
def t_get():
    r = bpp_post(None, {}, path="/bpp/search", method="GET")
    check_nack(r, 405, "30000", "GET")
    eq(r.header("Allow"), "POST", "Allow header")


@test("BPP net: unknown path -> 404 NACK")
def t_unknown_path():
    body, ctx, auth = signed()
    NACKED.append(ctx["message_id"])
    check_nack(bpp_post(body, {"Authorization": auth},
                        path="/nobody/select"), 404, "40001",
               "unknown participant path")
    check_nack(bpp_post(body, {"Authorization": auth},
                        path="/bpp/frobnicate"), 404, "40001",
               "unknown action")


@test("BAP client: bpp_uri not registered for bpp_id -> 400 NACK, "
      "nothing sent")
def t_unregistered_bpp_uri():
    net = W.net
    evil = W.server(StubServer("evil"))
    mid = new_id()
    r = net.bap_call("select", net.peer_ctx(bpp_uri=evil.url + "/bpp",
                                            message_id=mid),
                     fixture_message("select"))
    check_nack(r, 400, "30000", "unregistered bpp_uri",
               paths=["/context/bpp_uri"])
    time.sleep(0.3 * SLOW)
    eq(len(evil.requests), 0, "requests that reached the unregistered URL")
    eq(len(net.tap_bpp.find(by_mid(mid))), 0, "requests on the BPP's wire")
    NACKED.append(mid)


@test("BAP net: callback whose keyId is not context.bpp_id -> 401")
def t_callback_keyid():
    net = W.net
    body, ctx = net.request_body("on_select")
    auth = net.sign(body, net.bpp2)		# registered, but not bpp.test
    NACKED.append(ctx["message_id"])
    r = http(net.d_bap.net_port, "POST", "/bap/on_select", body,
             {"Authorization": auth})
    check_nack(r, 401, "30000", "callback keyId", auth="WWW-Authenticate",
               realm="bap.test", msg_has="bpp_id")


@test("BAP net: a BPP-role action (search) -> 400 40001")
def t_bap_gets_search():
    net = W.net
    body, ctx, auth = signed("search")
    NACKED.append(ctx["message_id"])
    r = http(net.d_bap.net_port, "POST", "/bap/search", body,
             {"Authorization": auth})
    check_nack(r, 400, "40001", "search at the BAP")


@test("negative tests: no NACKed message reached an app")
def t_nothing_delivered():
    net = W.net
    time.sleep(0.2 * SLOW)
    leaked = []
    for app in (net.bpp_app, net.bap_app, net.bpp2_app):
        for mid in NACKED:
            if app.find(by_mid(mid)):
                leaked.append("%s at %s" % (mid, app.name))
    check(not leaked, "NACKed messages delivered: %s", leaked)


# ================================================================================
# 4. sync mode through a stub gateway to two BPPs
# ================================================================================

@test("sync: search?sync=true&wait=PT2S collects on_search from two BPPs")
def t_sync():
    net = W.net
    mid = new_id()
    wait_s = 2 if SLOW == 1 else int(4 + SLOW * 2 / 3)
    catalogs = {}
    answers = {}

    def responder(app_name, port, path, sid, provider_name):
        def hook(req):
            c = req.context()
            if c.get("message_id") != mid or c.get("action") != "search":
                return
            msg = fixture_message("on_search")
            msg["catalog"]["providers"][0]["descriptor"]["name"] = \
                provider_name
            catalogs[sid] = msg
            try:
                answers[sid] = net.bpp_callback(c, "on_search", msg,
                                                client_port=port, path=path)
            except OSError as e:
                answers[sid] = e
        return hook

    net.bpp_app.hook = responder("bpp", net.d_bpp.client_port, "/bpp",
                                 net.bpp.sid, "Open Skills Academy")
    net.bpp2_app.hook = responder("bpp2", net.d_bpp2.client_port, "/bpp2",
                                  net.bpp2.sid, "Second Chance Institute")
    try:
        t0 = time.monotonic()
        r = net.bap_call("search", {"message_id": mid},
                         fixture_message("search"),
                         query="?sync=true&wait=PT%dS" % wait_s,
                         timeout=wait_s + 20 * SLOW)
        elapsed = time.monotonic() - t0
    finally:
        net.bpp_app.hook = None
        net.bpp2_app.hook = None
    check(r.status == 200, "HTTP %d: %s", r.status, r.body[:400])
    j = r.json()
    check(isinstance(j.get("context"), dict), "no context: %s", r.body[:300])
    check_context(j["context"], "search", (net.bap.sid, net.bap_url), None,
                  with_bpp=False)
    eq(j["context"]["message_id"], mid, "context.message_id")
    resp = j.get("responses")
    check(isinstance(resp, list), "no responses array: %s", r.body[:400])
    check(elapsed <= wait_s + 1.5 * SLOW, "answered after %.2fs, wait was "
          "%ds", elapsed, wait_s)
    fw = net.gateway.find(lambda q: True)
    senders = sorted((x.get("context") or {}).get("bpp_id") for x in resp)
    check(len(resp) == 2 and senders == ["bpp.test", "bpp2.test"],
          "responses from %s, want bpp.test and bpp2.test (gateway "
          "forwards: %s; on_search answers: %s)", senders,
          [(p, getattr(x, "status", x)) for p, _, x in net.gateway.forwarded],
          answers)
    for sid, a in sorted(answers.items()):
        check(isinstance(a, bxlib.Response), "%s on_search call: %r", sid, a)
        check_ack(a, "%s client on_search" % sid)
    for x in resp:
        c = x["context"]
        sid = c["bpp_id"]
        check_context(c, "on_search", (net.bap.sid, net.bap_url),
                      (sid, net.bpp_url if sid == "bpp.test"
                       else net.bpp2_url))
        eq(c["message_id"], mid, "on_search message_id")
        eq(x.get("message"), catalogs.get(sid), "%s catalog" % sid)
    # The gateway saw the exact signed search and both BPPs took it.
    g = [q for q in fw if q.context().get("message_id") == mid]
    check(len(g) == 1, "gateway received %d searches", len(g))
    rc, out = W.tool.verify(g[0].body, net.bap.pub,
                            g[0].header("Authorization"))
    check(rc == 0, "search at the gateway does not verify: %s", out)
    fwd = [(p, x) for p, _, x in net.gateway.forwarded
           if isinstance(x, bxlib.Response) and
           (x.json() if x.body else {}).get("message") ==
           {"ack": {"status": "ACK"}}]
    eq(sorted(p for p, _ in fwd), sorted([net.d_bpp.net_port,
                                          net.d_bpp2.net_port]),
       "BPP adaptors that ACKed the gateway's forward")
    # The callbacks were also delivered to the BAP app's webhook.
    got = net.bap_app.wait_for(by_mid(mid, "on_search"), T, count=2)
    eq(sorted(q.context().get("bpp_id") for q in got),
       ["bpp.test", "bpp2.test"], "on_search at the BAP app")
    for q in got:
        x = [y for y in resp if y["context"]["bpp_id"] ==
             q.context()["bpp_id"]][0]
        eq(q.json(), x, "sync response vs webhook body")


# ================================================================================
# 3. webhook down: ACK, retries, nothing lost
# ================================================================================

@test("webhook down: ACKed, retried, delivered intact after the app returns")
def t_webhook_down():
    net = W.net
    app = net.bpp_app
    app.stop()
    acks = []
    try:
        for action in ("status", "track", "support"):
            r = net.bap_call(action, net.peer_ctx(), fixture_message(action))
            acks.append((action, r, check_ack(r, "%s while the app is down" %
                                              action)))
        # Down long enough for the backoff to reach backoff_max (500ms)
        # and for more attempts than delivery.retries' default.
        for action, r, ctx in acks:
            m = net.d_bpp.wait_log(r"delivery: %s to .*\(message_id %s\) "
                                   r"failed: .*retry 7 " %
                                   (action, ctx["message_id"]), T)
            check(m is not None, "no 7th retry logged for %s (log: %s)",
                  action, net.d_bpp.messages()[-3:])
        delays = [int(x) for x in re.findall(
            r"failed: .*; retry \d+ in (\d+) ms",
            "\n".join(net.d_bpp.messages()))]
        check(delays and max(delays) <= 500 and min(delays) >= 50,
              "retry delays %s outside backoff 100ms/2 .. backoff_max "
              "500ms", delays)
        for action, r, ctx in acks:
            eq(app.find(by_mid(ctx["message_id"])), [], "delivered while "
               "down")
    finally:
        app.start()			# the same port again
    for action, r, ctx in acks:
        check_hop(net, net.tap_bpp, app, r, action, net.bap, "/bpp",
                  "/bpp-app")
        m = net.d_bpp.wait_log(r"delivery: %s \(message_id %s\) delivered "
                               r"to .* after \d+ attempts" %
                               (action, ctx["message_id"]), T)
        check(m is not None, "no 'delivered after N attempts' log for %s",
              action)


@test("webhook down with delivery.retries at its default: nothing lost")
def t_webhook_down_default_retries():
    net = W.net
    app = net.bpp2_app
    app.stop()
    try:
        r = net.bap_call("status", {"bpp_id": net.bpp2.sid,
                                    "bpp_uri": net.bpp2_url},
                         fixture_message("status"))
        ctx = check_ack(r, "status to bpp2 while its app is down")
        mid = ctx["message_id"]
        m = net.d_bpp2.wait_log(r"delivery: status .*\(message_id %s.*"
                                r"(dropped after|retry 6 )" % mid, T)
        check(m is not None, "bpp2: neither a 6th retry nor a drop logged "
              "(log: %s)", net.d_bpp2.messages()[-3:])
    finally:
        app.start()
    check("dropped" not in m, "BPP2 (delivery.retries not set) gave the "
          "message up while its app was down: %r. etc/becknd.yaml and "
          "proxy_deliver.c document the default as 0 = until delivered; "
          "the issue requires nothing lost", m)
    check_hop(net, net.tap_bpp2, app, r, "status", net.bap, "/bpp2",
              "/bpp2-app")


# ================================================================================
# 6. SIGHUP: key rotation, connections kept, broken file ignored
# ================================================================================

def roundtrip(net, action, cb, cbap=None, cbpp=None, expect_cb_ack=True):
    r = net.bap_call(action, net.peer_ctx(), fixture_message(action),
                     conn=cbap)
    ctx = check_ack(r, action)
    got = net.bpp_app.wait_for(by_mid(ctx["message_id"], action), T)
    check(got, "%s did not reach the BPP app", action)
    r2 = net.bpp_callback(got[0].context(), cb, fixture_message(cb),
                          conn=cbpp)
    return r, r2


@test("SIGHUP: rotated BPP key is used; the BAP takes it after its reload; "
      "connections kept")
def t_sighup_rotation():
    net = W.net
    import http.client as hc
    cbap = hc.HTTPConnection("127.0.0.1", net.d_bap.client_port,
                             timeout=bxlib.HTTP_TIMEOUT)
    cbpp = hc.HTTPConnection("127.0.0.1", net.d_bpp.client_port,
                             timeout=bxlib.HTTP_TIMEOUT)
    try:
        _, r2 = roundtrip(net, "status", "on_status", cbap, cbpp)
        check_ack(r2, "on_status before the rotation")
        s_bap, s_bpp = cbap.sock, cbpp.sock
        check(s_bap is not None and s_bpp is not None,
              "client listeners closed the kept-alive connection")
        names = (s_bap.getsockname(), s_bpp.getsockname())
        old = net.bpp.pub

        # New key in the BPP's config and in the registry file.
        net.bpp.priv, net.bpp.pub = W.tool.keygen()
        net.write_registry()
        net.write_bpp_conf()
        mark = net.d_bpp.mark()
        net.d_bpp.signal(signal.SIGHUP)
        check(net.d_bpp.wait_log(r"^reloaded ", T, since=mark),
              "BPP did not log 'reloaded': %s",
              net.d_bpp.messages(mark)[-5:])

        # The BAP still holds the old key: the callback is refused.
        _, r2 = roundtrip(net, "status", "on_status", cbap, cbpp)
        check(r2.status == 200, "relayed NACK: HTTP %d", r2.status)
        j = r2.json()
        eq(j["message"]["ack"]["status"], "NACK", "on_status before the BAP "
           "reloads (old key in its registry)")

        # SIGHUP the BAP while a sync call is held open on it.
        held = {}
        hold_s = max(1, int(1 + 0.6 * SLOW))

        def hold():
            try:
                held["r"] = net.bap_call("track", net.peer_ctx(),
                                         fixture_message("track"),
                                         query="?sync=true&wait=PT%dS" %
                                         hold_s, timeout=hold_s + 20 * SLOW)
                held["t"] = time.monotonic()
            except Exception as e:
                held["e"] = e
        th = threading.Thread(target=hold, daemon=True)
        th.start()
        time.sleep(0.3 * SLOW)
        mark = net.d_bap.mark()
        t_hup = time.monotonic()
        check("r" not in held and "e" not in held, "the held call ended "
              "before the SIGHUP: %r", held)
        net.d_bap.signal(signal.SIGHUP)
        check(net.d_bap.wait_log(r"^reloaded ", T, since=mark),
              "BAP did not log 'reloaded'")
        th.join(20 * SLOW)
        check("r" in held, "sync call held across the reload failed: %r",
              held.get("e"))
        check(held["r"].status == 200, "held call: HTTP %d %s",
              held["r"].status, held["r"].body[:200])
        eq(held["r"].json().get("responses"), [], "held call responses")
        check(held["t"] > t_hup, "held call ended before the SIGHUP")

        r, r2 = roundtrip(net, "status", "on_status", cbap, cbpp)
        check_ack(r2, "on_status after both reloads")
        got = check_hop(net, net.tap_bap, net.bap_app, r2, "on_status",
                        net.bpp, "/bap", "/bap-app")
        wire = net.tap_bap.find(by_mid(got.context()["message_id"],
                                       "on_status"))[-1]
        rc, out = W.tool.verify(wire.body, old, wire.header("Authorization"))
        check(rc != 0, "the callback still verifies with the old key")
        eq((cbap.sock is s_bap and cbap.sock.getsockname() == names[0],
            cbpp.sock is s_bpp and cbpp.sock.getsockname() == names[1]),
           (True, True), "client connections kept across SIGHUP")
    finally:
        cbap.close()
        cbpp.close()


@test("SIGHUP: a broken config is logged and the running one keeps working")
def t_sighup_broken():
    net = W.net
    good = net.bpp_conf_text()
    broken = good.replace("log:\n  level: info\n",
                          "log:\n  level: info\n  colour: always\n")
    check(broken != good, "could not break the config")
    line = broken.split("\n").index("  colour: always") + 1
    net.write_bpp_conf(broken)
    try:
        mark = net.d_bpp.mark()
        net.d_bpp.signal(signal.SIGHUP)
        m = net.d_bpp.wait_log(r"reload failed", T, since=mark)
        check(m is not None, "no 'reload failed' log: %s",
              net.d_bpp.messages(mark)[-5:])
        want = "%s:%d: unknown key" % (net.bpp_conf, line)
        check(want in m, "log %r does not say %r", m, want)
        check(net.d_bpp.alive(), "the BPP adaptor died")
        r, r2 = roundtrip(net, "status", "on_status")
        check_ack(r2, "on_status after the broken reload")
        check_hop(net, net.tap_bap, net.bap_app, r2, "on_status", net.bpp,
                  "/bap", "/bap-app")
    finally:
        net.write_bpp_conf(good)


def big_select(pad=6000):
    """A signed select of about pad bytes more than the fixture."""
    net = W.net
    msg = fixture_message("select")
    msg["order"]["provider"]["descriptor"] = {"name": "padding",
                                              "long_desc": "x" * pad}
    body, ctx = net.request_body("select", msg)
    return body, ctx, net.sign(body, net.bap)


def sighup(d, what):
    mark = d.mark()
    d.signal(signal.SIGHUP)
    m = d.wait_log(r"^(reloaded |reload failed)", T, since=mark)
    check(m is not None, "%s: no reload log line: %s", what,
          d.messages(mark)[-5:])
    return m


@test("SIGHUP: a lowered limits.body_max applies to the next request (413 "
      "NACK); raised again, the same size is ACKed")
def t_sighup_body_max():
    net = W.net
    good = net.bpp_conf_text()
    small = good.replace("body_max: 32KiB", "body_max: 4KiB")
    check(small != good, "could not lower body_max")
    try:
        net.write_bpp_conf(small)
        m = sighup(net.d_bpp, "lowering body_max")
        check(m.startswith("reloaded "), "reload refused: %s", m)
        body, ctx, auth = big_select()
        check(4096 < len(body) < 32768, "body is %d bytes", len(body))
        NACKED.append(ctx["message_id"])
        r = bpp_post(body, {"Authorization": auth})
        check_nack(r, 413, "30000", "6 KB body after body_max 4KiB")
    finally:
        net.write_bpp_conf(good)
    m = sighup(net.d_bpp, "raising body_max")
    check(m.startswith("reloaded "), "reload refused: %s", m)
    body, ctx, auth = big_select()
    r = bpp_post(body, {"Authorization": auth})
    check_net_ack(r, "6 KB body after body_max 32KiB again")
    check(net.bpp_app.wait_for(by_mid(ctx["message_id"], "select"), T),
          "the ACKed select did not reach the BPP app")


@test("SIGHUP: changing listen.network refuses the whole reload (file:line "
      "named); the running configuration keeps serving, unchanged")
def t_sighup_restart_key():
    net = W.net
    good = net.bpp_conf_text()
    bad = good.replace('  network: "127.0.0.1:0"', '  network: "127.0.0.1:1"')
    bad = bad.replace("body_max: 32KiB", "body_max: 4KiB")
    check(bad.count("127.0.0.1:1") == 1 and "4KiB" in bad,
          "could not edit the config")
    line = bad.split("\n").index('  network: "127.0.0.1:1"') + 1
    try:
        net.write_bpp_conf(bad)
        m = sighup(net.d_bpp, "changing listen.network")
        want = "%s:%d: listen.network" % (net.bpp_conf, line)
        check(m.startswith("reload failed") and want in m,
              "log %r does not refuse naming %r", m, want)
        check(net.d_bpp.alive(), "the BPP adaptor died")
        # Nothing of the refused file applies: body_max is still 32KiB.
        body, ctx, auth = big_select()
        r = bpp_post(body, {"Authorization": auth})
        check_net_ack(r, "6 KB body after a refused reload to body_max "
                      "4KiB")
        r, r2 = roundtrip(net, "status", "on_status")
        check_ack(r2, "on_status after the refused reload")
    finally:
        net.write_bpp_conf(good)


@test("SIGHUP: after a key rotation only the new configuration remains: the "
      "old private key is wiped from the process's memory")
def t_sighup_one_snapshot():
    net = W.net
    d = net.d_bpp2
    old = base64.b64decode(net.bpp2.priv)[:32]
    held = bxlib.memory_holds(d.pid, [old])
    check(held == [True], "the scan does not see the running private key "
          "in process %d", d.pid)
    net.bpp2.priv, net.bpp2.pub = W.tool.keygen()
    new = base64.b64decode(net.bpp2.priv)[:32]
    net.write_registry()
    tmp = net.bpp2_conf + ".new"
    with open(tmp, "w") as f:
        f.write(net.bpp2_conf_text())
    os.rename(tmp, net.bpp2_conf)
    m = sighup(d, "rotating the key")
    check(m.startswith("reloaded "), "reload refused: %s", m)
    # The new key signs: an on_search from BPP2 is ACKed by the BAP once
    # the BAP has re-read the registry file too.
    sighup(net.d_bap, "BAP registry reload")
    deadline = time.monotonic() + T
    while True:
        held = bxlib.memory_holds(d.pid, [old, new])
        if held == [False, True] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    eq(held, [False, True], "[old key in memory, new key in memory]")
    body = {"context": {"transaction_id": new_id(), "message_id": new_id(),
                        "bap_id": net.bap.sid, "bap_uri": net.bap_url},
            "message": fixture_message("on_search")}
    r = http(net.d_bpp2.client_port, "POST", "/bpp2/on_search", compact(body))
    check_ack(r, "on_search signed with the rotated key")


# ================================================================================
# 7. SIGTERM drains the delivery queue
# ================================================================================

@test("SIGTERM: slow webhook still gets the message; exit 0 within "
      "shutdown_timeout")
def t_sigterm_drain():
    net = W.net
    d = net.d_bpp
    net.bpp_app.delay = 1.0
    try:
        r = net.bap_call("status", net.peer_ctx(), fixture_message("status"))
        ctx = check_ack(r, "status")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(5.0 + 2 * SLOW)
        check(rc is not None, "still running %.1fs after SIGTERM "
              "(shutdown_timeout 5s)", time.monotonic() - t0)
        elapsed = d.exit_time - t0
    finally:
        net.bpp_app.delay = 0.0
    eq(rc, 0, "exit status after SIGTERM")
    check(elapsed <= 5.0 + 1.0 * SLOW, "exit took %.2fs (shutdown_timeout "
          "5s)", elapsed)
    got = net.bpp_app.find(by_mid(ctx["message_id"], "status"))
    check(len(got) == 1, "the slow app got %d copies", len(got))
    wire = net.tap_bpp.find(by_mid(ctx["message_id"], "status"))
    check(wire and got[0].body == wire[0].body, "body differs from the wire")
    check(got[0].done is not None and got[0].done <= d.exit_time + 0.05,
          "the process exited before the app answered")
    msgs = d.messages()
    check(any("message_id %s) delivered" % ctx["message_id"] in m
              for m in msgs), "no 'delivered' log line")
    check(any(m.startswith("stopped: nothing left in flight") for m in msgs),
          "no 'stopped: nothing left in flight' (log tail: %s)", msgs[-4:])


# ================================================================================
# every process exits cleanly (and, under a wrapper, without reports)
# ================================================================================

@test("teardown: every becknd exits 0 with no sanitizer/valgrind report",
      needs_net=False)
def t_teardown():
    problems = []
    for d in W.daemons:
        rc = d.stop(10 * SLOW)
        with d.lock:
            lines = list(d.lines)
        reps = bxlib.sanitizer_reports(lines)
        if rc != 0:
            problems.append("%s exited %s%s" % (
                d.name, rc, " (wrapper error code)" if rc == WRAPPER_RC
                else ""))
        if reps:
            problems.append("%s: %s" % (d.name, " | ".join(reps[:5])))
    if not W.daemons:
        raise Skip("no daemon ran")
    check(not problems, "; ".join(problems))


# ================================================================================

def main():
    global W
    if not os.access(BIN, os.X_OK):
        log("blackbox: %s is not an executable becknd (set BECKND_BIN)" % BIN)
        log("blackbox: 0 passed, 1 failed")
        return 1
    for s in SCHEMAS:
        if not os.path.exists(s):
            log("blackbox: schema %s missing (set BECKND_SRCDIR)" % s)
            log("blackbox: 0 passed, 1 failed")
            return 1
    W = World()
    started = time.monotonic()
    done = threading.Event()

    def watchdog():
        if done.wait(WATCHDOG):
            return
        log("FAIL: watchdog: the suite ran past %.0fs; stopping" % WATCHDOG)
        for d in W.daemons:
            d.kill()
        for s in W.servers:
            try:
                s.srv.server_close()
            except Exception:
                pass
        shutil.rmtree(W.tmp, ignore_errors=True)
        log("blackbox: %d passed, %d failed" % (RESULTS["pass"],
                                                RESULTS["fail"] + 1))
        os._exit(1)

    threading.Thread(target=watchdog, daemon=True).start()

    def on_signal(sig, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    log("blackbox: becknd %s%s, sources %s" % (
        BIN, " under " + " ".join(WRAPPER) if WRAPPER else "", SRCDIR))
    try:
        run_all()
    except KeyboardInterrupt:
        RESULTS["fail"] += 1
        log("FAIL: interrupted")
    finally:
        if RESULTS["fail"]:
            for d in W.daemons:
                tail = d.messages()[-25:]
                log("---- %s (pid %s, exit %s) log tail:" % (d.name, d.pid,
                                                             d.rc))
                for m in tail:
                    log("  " + m)
        W.cleanup()
        done.set()
    log("blackbox: runtime %.1fs" % (time.monotonic() - started))
    summary = "blackbox: %d passed, %d failed" % (RESULTS["pass"],
                                                 RESULTS["fail"])
    if RESULTS["skip"]:
        summary += ", %d skipped" % RESULTS["skip"]
    log(summary)
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
