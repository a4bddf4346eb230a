#!/usr/bin/env python3
"""becknd observability suite: the real becknd on 127.0.0.1 with a stub
ONEST telemetry sink (tests/blackbox/telsink.py), asserting what the
telemetry, the Prometheus metrics and the health probes promise:

  1  telemetry survives a 30 s sink outage and a restart (SIGTERM) in the
     middle of it: every ACKed message's event arrives exactly once, in
     well-formed batches, each batch id once; the spool empties
  1b the same with kill -9: every event the store had committed arrives
  2  /metrics counts exactly the traffic sent (ACK, schema NACK, bad
     signature), by stage; names follow Prometheus conventions; the
     admin token guards /metrics, never /healthz and /readyz
  2b a BAP whose peer is down: one outbound "error" message, counted and
     reported as an Error span with http.status.code 0
  3  /readyz waits for the registry (registry.url) and is ready at once
     with registry.file
  4  telemetry off: no telemetry.url, nothing is POSTed (not even what an
     earlier run spooled), the metrics are still served

    BECKND_BIN=/path/to/becknd BECKND_SRCDIR=/path/to/source \\
        python3 tests/observe/run.py [-v] [-k SUBSTRING]

It reuses tests/blackbox/bxlib.py (Daemon, StubServer, App, run_case),
tests/blackbox/telsink.py (TelemetrySink, check_batch, parse_metrics) and
the durable suite's parties, configurations, signing and per-test context
(tests/durable/run.py, imported as a module).  Every process and server
listens on 127.0.0.1; every port is chosen at run time (a "down" port is
reserved by binding port 0 and closing it).  Each test starts its own
becknd processes and stubs, stops them by PID at its end, checks that they
exited 0 without a sanitizer or valgrind report (a process the test killed
with SIGKILL excepted), and has a deadline; the whole suite has a
watchdog.  Each test prints one summary line with its counts; the last
line is "observe: N passed, M failed[, K skipped]" (exit 0 when none
failed; 77 when every test was skipped).  The tests that read /metrics
need python3-prometheus-client (telsink's parse_metrics); without it
they are skipped.

Environment:
  BECKND_BIN, BECKND_SRCDIR   as for tests/durable/run.py
  BECKND_WRAPPER              e.g. "valgrind -q --error-exitcode=99
                              --leak-check=full
                              --errors-for-leak-kinds=definite": every
                              daemon and every `-t` runs under it; counts
                              and the 30 s outage stay, waits grow
  BECKND_OBSERVE_SLOW         time factor for waits (default 1, 6 with a
                              wrapper); the bounds the issue sets (the 30 s
                              outage, /readyz within 10 s) are not scaled
  BECKND_OBSERVE_TIMEOUT      the suite's watchdog in seconds (default 600,
                              3600 with a wrapper)
  BECKND_OBSERVE_KEEP=1       keep the temporary folder (configs, logs,
                              databases)
  BECKND_OBSERVE_SKIP         comma-separated name substrings to skip
"""

import sys
sys.dont_write_bytecode = True

import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
import bxlib  # noqa: E402
import telsink  # noqa: E402
from bxlib import (App, StubServer, Tool, compact, http,  # noqa: E402
                   new_id)
from bxlib import Fail, Skip, check, eq, log  # noqa: E402
from telsink import (TelemetrySink, check_batch, check_batch_ids,  # noqa: E402
                     metric, metric_sum, parse_metrics, scrape)

# The durable suite's helpers (Party, config_text, BppWorld, Ctx, ...):
# its module, not its main().
_spec = importlib.util.spec_from_file_location(
    "durable_run", os.path.join(HERE, "..", "durable", "run.py"))
durable = importlib.util.module_from_spec(_spec)
sys.modules["durable_run"] = durable
_spec.loader.exec_module(durable)
from durable_run import (BppWorld, Ctx, Party, check_all_acked,  # noqa: E402,F401
                         check_nack, config_text, fixture_message, is_ack,
                         reserve_port, webhook_stub, what)

# ============================================================================
# Settings
# ============================================================================

SRCDIR = durable.SRCDIR
BIN = durable.BIN
WRAPPER = durable.WRAPPER
SLOW = float(os.environ.get("BECKND_OBSERVE_SLOW") or (6 if WRAPPER else 1))
T = 5.0 * SLOW
START_T = 15.0 * SLOW
WATCHDOG = float(os.environ.get("BECKND_OBSERVE_TIMEOUT") or
                 (600 if not WRAPPER else 3600))
# The durable helpers wait with these.
durable.SLOW, durable.T, durable.START_T = SLOW, T, START_T
VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
SKIP = [x.strip() for x in
        (os.environ.get("BECKND_OBSERVE_SKIP") or "").split(",")
        if x.strip()]

ADMIN_TOKEN = "observe-test-token-0123456789"
BAP_ID = "bap.test"		# BppWorld's parties
BPP_ID = "bpp.test"

# The figures of the issue.
OUTAGE_S = 30.0
N_BEFORE, N_DURING, N_AFTER = 200, 200, 100
TEL_KEYS = {"telemetry.batch_size": "10", "telemetry.interval": "300ms",
            "telemetry.retry_max": "2s", "telemetry.timeout": "5s"}
READY_BOUND_S = 10.0		# /readyz 200 after the registry came up


def fig(msg, *args):
    """A summary line of a test (its counts and timings)."""
    log("observe: " + (msg % args if args else msg))


# ============================================================================
# Helpers
# ============================================================================

def admin_url(w, path="/metrics"):
    return "http://127.0.0.1:%d%s" % (w.admin_port, path)


def get_metrics(w, token=None):
    """The samples of GET /metrics (must be 200)."""
    st, hdrs, text = scrape(admin_url(w), token,
                            timeout=bxlib.HTTP_TIMEOUT * SLOW)
    check(st == 200, "GET /metrics: HTTP %d %.200s", st, text)
    return parse_metrics(text)


def wait_metrics(w, cond, timeout, token=None):
    """Scrapes until cond(samples) holds; the last samples either way."""
    deadline = time.monotonic() + timeout
    while True:
        s = get_metrics(w, token)
        if cond(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.2)


def span_ids_of_events(texts):
    """spanId of each event JSON text (the store's tel_event rows)."""
    out = []
    for t in texts:
        ev = json.loads(t)
        for r in ev.get("resourceSpans", []):
            for s in r.get("scopeSpans", []):
                for sp in s.get("spans", []):
                    out.append(sp.get("spanId"))
    return out


def tel_rows(db):
    """The event texts of the store's telemetry spool (tel_event), read
    with sqlite3 while no becknd has the file open."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return [r[0] for r in con.execute(
            "SELECT event FROM tel_event ORDER BY seq")]
    finally:
        con.close()


def sink_summaries(sink):
    """check_batch() of every accepted batch (a Fail names the batch) and
    check_batch_ids() over them; the events' summaries."""
    batches = sink.batches()
    out = []
    for i, b in enumerate(batches):
        try:
            out += check_batch(b)
        except Fail as e:
            raise Fail("accepted batch %d of %d: %s" % (i + 1, len(batches),
                                                        e))
    check_batch_ids(batches)
    return out


def check_events_once(summaries, sent, what_, producer=BPP_ID,
                      name="search"):
    """Exactly one event per (body, context, auth) of sent, matched by
    spanId = message_id, from producer, named name, an Ok span of the
    transaction; no other event.  Returns {message_id: count}."""
    want = {c["message_id"]: c for b, c, a in sent}
    count = {}
    problems = []
    for s in summaries:
        mid = s["spanId"]
        count[mid] = count.get(mid, 0) + 1
        if mid not in want:
            problems.append("an event for message_id %r, not sent" % mid)
            continue
        c = want[mid]
        for k, v in (("producer", producer), ("name", name),
                     ("traceId", c["transaction_id"]), ("status", "Ok"),
                     ("http_status", 200), ("sender_id", BAP_ID),
                     ("recipient_id", BPP_ID), ("eid", "API")):
            if s.get(k) != v:
                problems.append("%s: %s %r, want %r" % (mid, k, s.get(k), v))
    twice = {m: n for m, n in count.items() if n > 1}
    missing = [m for m in want if m not in count]
    check(not problems, "%s: %d problem(s): %s", what_, len(problems),
          "; ".join(problems[:5]))
    check(not twice, "%s: %d message(s) reported more than once (e.g. %s)",
          what_, len(twice), list(twice.items())[:3])
    check(not missing, "%s: %d of %d message(s) have no event (e.g. %s)",
          what_, len(missing), len(want), missing[:3])
    return count


def tel_world(ctx, sink, app, extra=None):
    keys = {"listen.admin": "127.0.0.1:0", "telemetry.url": sink.url}
    keys.update(TEL_KEYS)
    keys.update(extra or {})
    return BppWorld(ctx, app.url + "/hook/{action}", keys, admin=True)


def failures_logged(daemons):
    return [m for d in daemons for m in d.messages()
            if re.search(r"^telemetry: POST to .* failed", m)]


# ============================================================================
# The runner
# ============================================================================

TESTS = []
RESULTS = {"pass": 0, "fail": 0, "skip": 0}
TOOL = None
TMP = None
CURRENT = []		# the running test's Ctx (for the watchdog)


def test(name, deadline, prom=True):
    """prom: the test reads /metrics (python3-prometheus-client)."""
    def deco(fn):
        TESTS.append((name, fn, deadline, prom))
        return fn
    return deco


def prometheus_missing():
    """Why the Prometheus text parser cannot be had, or None."""
    try:
        telsink._parser()
    except Skip as e:
        return str(e)
    return None


def run_one(name, fn, deadline, prom):
    if ONLY and ONLY not in name:
        return
    if any(x in name for x in SKIP):
        RESULTS["skip"] += 1
        log("SKIP: %s: BECKND_OBSERVE_SKIP" % name)
        return
    if prom and prometheus_missing():
        RESULTS["skip"] += 1
        log("SKIP: %s: %s" % (name, prometheus_missing()))
        return
    ctx = Ctx(name, TMP, TOOL)
    CURRENT[:] = [ctx]
    bxlib.run_case(name, fn, ctx, deadline * SLOW, RESULTS, VERBOSE)
    return True


# ============================================================================
# 1. a sink outage with a restart in it
# ============================================================================

def outage(ctx, kill9, n_before, n_during, n_after, outage_s):
    """The flow of test 1; kill9: SIGKILL instead of SIGTERM.  Returns
    the figures for the summary line."""
    sink = ctx.server(TelemetrySink())
    app = webhook_stub(ctx)
    w = tel_world(ctx, sink, app)
    d1 = w.start()
    total = n_before + n_during + n_after
    futs = w.sign_async(total, expires_in=1800)
    before, during, after = (futs[:n_before],
                             futs[n_before:n_before + n_during],
                             futs[n_before + n_during:])
    t0 = time.monotonic()
    ans = w.send_all(before)
    before = [f.result() for f in before]
    check_all_acked(ans, before, "before the outage")
    t_before = time.monotonic() - t0
    accepted_before = len(sink.events())

    sink.refuse(True)
    t_off = time.monotonic()
    ans = w.send_all(during)
    during = [f.result() for f in during]
    check_all_acked(ans, during, "during the outage")
    if kill9:
        ctx.kill9(d1)
        check(not d1.alive(), "becknd still runs after SIGKILL")
        rc1 = "SIGKILL"
    else:
        d1.signal(signal.SIGTERM)
        rc1 = d1.wait_exit(10 * SLOW)
        eq(rc1, 0, "exit status after SIGTERM during the outage")
    # What the store holds now: with kill -9, the events it had committed.
    committed = set(span_ids_of_events(tel_rows(w.store)))
    accepted = set(s["spanId"] for s in sink_summaries(sink))
    d2 = w.start()
    ans = w.send_all(after)
    after = [f.result() for f in after]
    check_all_acked(ans, after, "after the restart, during the outage")
    # The restarted daemon met the outage too.
    left = outage_s - (time.monotonic() - t_off)
    check(d2.alive(), "the restarted becknd exited")
    if left > 0:
        time.sleep(left)
    sink.refuse(False)
    t_on = time.monotonic()
    outage_len = t_on - t_off

    sent = before + during + after
    if kill9:
        # Every event the store had, or the sink had accepted, before the
        # kill; and every one of a message ACKed after the restart.
        pre = set(c["message_id"] for b, c, a in before + during)
        lost = pre - committed - accepted
        must = [x for x in sent if x[1]["message_id"] not in lost]
    else:
        lost = set()
        must = sent
    sink.wait_events(len(must), 30 * SLOW)
    # A late duplicate would show now.
    s = wait_metrics(w, lambda s: metric(
        s, "becknd_telemetry_spool_events") == 0, 10 * SLOW)
    t_all = time.monotonic() - t_on
    summaries = sink_summaries(sink)
    if kill9:
        # Events of lost messages may not come; none may come twice.
        summaries = [x for x in summaries if x["spanId"] not in lost]
    check_events_once(summaries, must, "after the outage")
    eq(metric(s, "becknd_telemetry_spool_events"), 0,
       "becknd_telemetry_spool_events %.0f s after the sink came back" %
       (10 * SLOW))
    fails = metric(s, "becknd_telemetry_send_failures_total")
    logged = failures_logged([d1, d2])
    check(fails > 0 or logged, "the restarted becknd counted no failed "
          "POST (becknd_telemetry_send_failures_total %r) and none was "
          "logged", fails)
    eq(metric(s, "becknd_telemetry_dropped_events_total"), 0,
       "becknd_telemetry_dropped_events_total")
    atts = sink.attempts()
    return dict(total=len(sent), t_before=t_before,
                accepted_before=accepted_before, outage=outage_len,
                rc1=rc1, committed=len(committed), lost=len(lost),
                t_all=t_all, batches=len(sink.batches()),
                refused=sum(1 for a in atts if not a.accepted),
                fails=fails, logged=len(logged),
                sent_after=metric(s, "becknd_telemetry_events_sent_total"))


@test("telemetry survives a %.0f s sink outage and a restart (SIGTERM) "
      "in it: every ACKed message's event arrives once" % OUTAGE_S,
      deadline=180)
def t_outage(ctx):
    f = outage(ctx, False, N_BEFORE, N_DURING, N_AFTER, OUTAGE_S)
    fig("outage/SIGTERM: %d searches ACKed (%d before the outage in %.1f s, "
        "%d of their events accepted at its start), sink refused %.1f s, "
        "SIGTERM -> exit %s and restart in it; all %d events in %d "
        "accepted batches %.1f s after it came back, 0 twice, 0 missing, "
        "batch ids unique; %d failed attempts recorded by the sink, "
        "restarted daemon send_failures_total %.0f, %d failure lines "
        "logged; spool 0",
        f["total"], N_BEFORE, f["t_before"], f["accepted_before"],
        f["outage"], f["rc1"], f["total"], f["batches"], f["t_all"],
        f["refused"], f["fails"], f["logged"])


@test("telemetry survives a sink outage and kill -9 in it: every event "
      "the store committed arrives once", deadline=120)
def t_outage_kill9(ctx):
    f = outage(ctx, True, 100, 100, 50, 10.0)
    fig("outage/kill -9: %d searches ACKed, sink refused %.1f s, kill -9 "
        "after the %d sent during the outage: the store held %d events, "
        "%d ACKed messages' events lost with the kill (not committed); "
        "the other %d arrived once each in %d accepted batches %.1f s "
        "after the sink came back; spool 0",
        f["total"], f["outage"], 100, f["committed"], f["lost"],
        f["total"] - f["lost"], f["batches"], f["t_all"])


# ============================================================================
# 2. the metrics match the traffic
# ============================================================================

N_ACK, N_SCHEMA, N_BADSIG = 7, 4, 3
UUIDISH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}|[0-9a-f]{24,}", re.I)
NAME_RX = re.compile(r"^becknd_[a-z][a-z0-9_]*$")
LABEL_RX = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_conventions(text, ids):
    """Prometheus naming conventions over the raw exposition: HELP and
    TYPE for each family, counters end in _total and nothing else does,
    durations in seconds, snake_case names and labels, no id-looking
    label value (UUIDs, long hex, any id we sent)."""
    types, helps = {}, set()
    for line in text.split("\n"):
        m = re.match(r"^# TYPE (\S+) (\S+)$", line)
        if m:
            check(m.group(1) not in types, "TYPE %s twice", m.group(1))
            types[m.group(1)] = m.group(2)
        m = re.match(r"^# HELP (\S+) \S", line)
        if m:
            helps.add(m.group(1))
    check(types, "no # TYPE line in /metrics")
    problems = []
    for name, typ in types.items():
        if not NAME_RX.match(name):
            problems.append("%s: not becknd_snake_case" % name)
        if name not in helps:
            problems.append("%s: no HELP" % name)
        if typ == "counter" and not name.endswith("_total"):
            problems.append("counter %s does not end in _total" % name)
        if typ != "counter" and name.endswith("_total"):
            problems.append("%s %s ends in _total" % (typ, name))
        if typ not in ("counter", "gauge", "histogram"):
            problems.append("%s: type %s" % (name, typ))
        if typ == "histogram" and "duration" in name and \
                not name.endswith("_seconds"):
            problems.append("histogram %s: not in _seconds" % name)
    fams = sorted(types, key=len, reverse=True)
    for line in text.split("\n"):
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? \S+$", line)
        if not m:
            problems.append("a sample line %r" % line[:120])
            continue
        sname = m.group(1)
        fam = next((f for f in fams if sname == f or (
            types[f] == "histogram" and sname in
            (f + "_bucket", f + "_sum", f + "_count"))), None)
        if fam is None:
            problems.append("sample %s of no TYPEd family" % sname)
        for k, v in re.findall(r'([^,=]+)="((?:[^"\\]|\\.)*)"',
                               m.group(3) or ""):
            if not LABEL_RX.match(k):
                problems.append("%s: label name %r" % (sname, k))
            if UUIDISH.search(v) or v in ids:
                problems.append("%s: label %s=%r looks like an id" %
                                (sname, k, v))
    check(not problems, "/metrics conventions: %d problem(s): %s",
          len(problems), "; ".join(problems[:6]))
    return types


@test("metrics match the traffic exactly: ACKs, schema NACKs, bad "
      "signatures, stages, deliveries; the admin token", deadline=90)
def t_metrics(ctx):
    sink = ctx.server(TelemetrySink())
    app = webhook_stub(ctx)
    w = tel_world(ctx, sink, app, {"admin.token": ADMIN_TOKEN})
    # Unauthenticated probes before any traffic.
    w.start()
    r = http(w.admin_port, "GET", "/metrics")
    eq(r.status, 401, "GET /metrics without the token (admin.token set)")
    r = http(w.admin_port, "GET", "/metrics",
             headers={"Authorization": "Bearer wrong-" + ADMIN_TOKEN})
    eq(r.status, 401, "GET /metrics with a wrong token")
    for p in ("/healthz", "/readyz"):
        r = http(w.admin_port, "GET", p)
        check(r.status in (200, 503), "GET %s without the token: %s (want "
              "200 or 503, never 401)", p, what(r))
    r = http(w.admin_port, "GET", "/healthz")
    eq(r.status, 200, "GET /healthz")
    eq(r.json(), {"status": "ok"}, "/healthz body")
    r = http(w.admin_port, "GET", "/readyz")
    eq(r.status, 200, "GET /readyz (registry.file, store open)")

    acks = w.sign_many(N_ACK)
    schema = []
    for _ in range(N_SCHEMA):
        msg = fixture_message("select")
        msg["order"] = "not an order object"
        schema.append(w.signed("select", message=msg))
    badsig = []
    for _ in range(N_BADSIG):
        b, c, a = w.signed("search")
        bad = b.replace(b'"ttl":"PT30S"', b'"ttl":"PT31S"')
        check(bad != b, "the tamper did not change the body")
        badsig.append((bad, c, a))
    t0 = time.time_ns()
    ans = w.send_all(acks, nconn=2)
    check_all_acked(ans, acks, "valid searches")
    nack_codes = {}		# (action, code) -> count
    for b, c, a in schema:
        r = w.post(b, a, "select")
        err = check_nack(r, 400, "a select with a schema error in message")
        nack_codes[("select", err["code"])] = \
            nack_codes.get(("select", err["code"]), 0) + 1
        c["_code"] = err["code"]
    for b, c, a in badsig:
        r = w.post(b, a, "search")
        err = check_nack(r, 401, "a search with a bad signature")
        nack_codes[("search", err["code"])] = \
            nack_codes.get(("search", err["code"]), 0) + 1

    got = app.wait_for(lambda r: True, 10 * SLOW, count=N_ACK)
    eq(len(got), N_ACK, "webhook deliveries")
    s = wait_metrics(w, lambda s: metric(
        s, "becknd_deliveries_total", outcome="delivered") >= N_ACK,
        10 * SLOW, ADMIN_TOKEN)
    st, hdrs, text = scrape(admin_url(w), ADMIN_TOKEN)
    eq(st, 200, "GET /metrics with the token")
    check(hdrs.get("content-type", "").startswith("text/plain; "
                                                  "version=0.0.4"),
          "/metrics Content-Type %r", hdrs.get("content-type"))
    s = parse_metrics(text)
    M = "becknd_messages_total"
    eq(metric(s, M, participant=BPP_ID, direction="in", action="search",
              outcome="ACK", code=""), N_ACK,
       "%s{participant=%s,direction=in,action=search,outcome=ACK,code=}" %
       (M, BPP_ID))
    eq(metric_sum(s, M, participant=BPP_ID, direction="in",
                  outcome="NACK"), N_SCHEMA + N_BADSIG,
       "sum of %s{direction=in,outcome=NACK}" % M)
    for (action, code), n in nack_codes.items():
        eq(metric(s, M, participant=BPP_ID, direction="in", action=action,
                  outcome="NACK", code=code), n,
           "%s{action=%s,outcome=NACK,code=%s}" % (M, action, code))
    eq(metric_sum(s, M), N_ACK + N_SCHEMA + N_BADSIG,
       "sum of every %s series" % M)
    eq(metric_sum(s, M, direction="out"), 0, "%s{direction=out}" % M)
    nacks = {d["stage"]: metric(s, "becknd_network_nacks_total", **d)
             for d in telsink.series(s, "becknd_network_nacks_total")}
    eq(nacks, {"verify": N_BADSIG, "validate": N_SCHEMA},
       "becknd_network_nacks_total by stage")
    H = "becknd_stage_duration_seconds_count"
    nv = metric(s, H, stage="verify")
    nval = metric(s, H, stage="validate")
    check(nv >= N_ACK + N_SCHEMA, "%s{stage=verify} %r < %d", H, nv,
          N_ACK + N_SCHEMA)
    check(nval >= N_ACK + N_SCHEMA, "%s{stage=validate} %r < %d", H, nval,
          N_ACK + N_SCHEMA)
    eq(metric(s, "becknd_deliveries_total", outcome="delivered"), N_ACK,
       "becknd_deliveries_total{outcome=delivered}")
    builds = telsink.series(s, "becknd_build_info")
    eq(len(builds), 1, "becknd_build_info series")
    eq(metric(s, "becknd_build_info", **builds[0]), 1, "becknd_build_info")
    ids = set()
    for b, c, a in acks + schema + badsig:
        ids.update((c["message_id"], c["transaction_id"]))
    types = check_conventions(text, ids)

    # The telemetry of the same traffic: an event per verified message
    # (the bad signatures none), Error with the NACK's code for the
    # schema errors.
    sink.wait_events(N_ACK + N_SCHEMA, 10 * SLOW)
    time.sleep(0.5 * SLOW)
    sums = sink_summaries(sink)
    t1 = time.time_ns()
    check_events_once([x for x in sums if x["name"] == "search"], acks,
                      "events of the ACKed searches")
    bad_ids = set(c["message_id"] for b, c, a in badsig)
    check(not [x for x in sums if x["spanId"] in bad_ids],
          "an event for a message whose signature failed")
    sel = {x["spanId"]: x for x in sums if x["name"] == "select"}
    eq(len(sel), N_SCHEMA, "select events")
    for b, c, a in schema:
        x = sel.get(c["message_id"])
        check(x is not None, "no event for select %s", c["message_id"])
        eq(x["status"], "Error", "status of a schema-NACKed select")
        eq(x["http_status"], 400, "http.status.code of a schema NACK")
        check(x["error"] is not None and x["error"]["code"] == c["_code"],
              "the error event of a schema NACK: %r (want code %r)",
              x["error"], c["_code"])
        check(t0 <= x["start"] <= x["end"] <= t1, "select span times %d.."
              "%d outside the test's %d..%d", x["start"], x["end"], t0, t1)
    fig("metrics: %d ACK, %d schema NACK (codes %s), %d bad signature "
        "(codes %s) -> messages_total, network_nacks_total %s, stage "
        "counts verify %.0f validate %.0f, deliveries 7, %d families "
        "conform; /metrics 401 without/with a wrong token, /healthz 200, "
        "/readyz 200 without; %d events (none for the bad signatures)",
        N_ACK, N_SCHEMA, sorted(set(c["_code"] for b, c, a in schema)),
        N_BADSIG, sorted(set(k[1] for k in nack_codes if k[0] == "search")),
        nacks, nv, nval, len(types), len(sums))


@test("outbound: a BAP whose peer is down counts one message with outcome "
      "error and reports an Error span with http.status.code 0",
      deadline=60)
def t_outbound_error(ctx):
    sink = ctx.server(TelemetrySink())
    app = webhook_stub(ctx)
    dead = reserve_port()
    bap = Party(ctx.tool, BAP_ID, "BAP", "http://127.0.0.1:9/bap")
    bpp = Party(ctx.tool, BPP_ID, "BPP", "http://127.0.0.1:%d/bpp" % dead)
    reg = ctx.path("registry.json")
    with open(reg, "w") as f:
        json.dump([bap.record(), bpp.record()], f)
    keys = {"listen.admin": "127.0.0.1:0", "telemetry.url": sink.url,
            "store.path": ctx.path("bap.db")}
    keys.update(TEL_KEYS)
    conf = ctx.write("bap.yaml", config_text(
        [{"party": bap, "role": "bap", "webhook": app.url + "/{action}"}],
        reg, keys))
    rc, out, err = ctx.check_conf(conf)
    check(rc == 0, "becknd -t refuses %s: %s%s", conf, out, err)
    d = ctx.start("bap", conf)
    admin = d.port(durable.ADMIN_LISTENER, START_T)
    mid, tid = new_id(), new_id()
    body = {"context": {"domain": durable.DOMAIN, "bpp_id": bpp.sid,
                        "bpp_uri": bpp.url, "message_id": mid,
                        "transaction_id": tid},
            "message": fixture_message("select")}
    t0 = time.time_ns()
    r = http(d.client_port, "POST", "/bap/select", compact(body),
             timeout=bxlib.HTTP_TIMEOUT * SLOW)
    t1 = time.time_ns()
    check(r.status // 100 == 5, "a select to a peer on a closed port: %s "
          "(want a 5xx NACK)", what(r))
    sink.wait_events(1, 10 * SLOW)
    time.sleep(0.5 * SLOW)
    sums = sink_summaries(sink)
    eq(len(sums), 1, "telemetry events")
    x = sums[0]
    for k, v in (("producer", BAP_ID), ("name", "select"), ("spanId", mid),
                 ("traceId", tid), ("status", "Error"), ("http_status", 0),
                 ("sender_id", BAP_ID), ("recipient_id", BPP_ID)):
        eq(x[k], v, "the failed call's event: %s" % k)
    check(x["error"] is not None, "the failed call's event has no error "
          "event")
    check(t0 <= x["start"] <= x["end"] <= t1, "span times %d..%d outside "
          "%d..%d", x["start"], x["end"], t0, t1)
    st, hdrs, text = scrape("http://127.0.0.1:%d/metrics" % admin)
    eq(st, 200, "GET /metrics (no admin.token)")
    s = parse_metrics(text)
    M = "becknd_messages_total"
    eq(metric_sum(s, M, direction="out", outcome="error"), 1,
       "%s{direction=out,outcome=error}" % M)
    eq(metric(s, M, participant=BAP_ID, direction="out", action="select",
              outcome="error", code=""), 1,
       "%s{participant=%s,direction=out,action=select,outcome=error,"
       "code=}" % (M, BAP_ID))
    eq(metric_sum(s, M), 1, "every %s series summed" % M)
    eq(metric_sum(s, "becknd_peer_call_duration_seconds_count",
                  outcome="error"), 1,
       "becknd_peer_call_duration_seconds_count{outcome=error}")
    fig("outbound: select to 127.0.0.1:%d (closed) -> %s; "
        "messages_total{out,error} 1; event Error, http.status.code 0, "
        "error %s", dead, what(r)[:60], x["error"])


# ============================================================================
# 3. /readyz waits for the registry
# ============================================================================

class StubRegistry(StubServer):
    """POST /lookup -> the records whose subscriber_id the query names
    (all when it names none)."""

    def __init__(self, records, port=0):
        self.records = records
        super().__init__("registry", port)

    def handler(self, req):
        if req.method != "POST" or not req.path.endswith("/lookup"):
            return 404, [], b"[]"
        q = req.json() or {}
        out = [r for r in self.records
               if q.get("subscriber_id") in (None, r["subscriber_id"])]
        return 200, [("Content-Type", "application/json")], \
            json.dumps(out).encode()


def readyz(w):
    r = http(w.admin_port, "GET", "/readyz",
             timeout=bxlib.HTTP_TIMEOUT * SLOW)
    try:
        j = r.json()
    except ValueError:
        raise Fail("GET /readyz: not JSON: %s" % what(r))
    return r.status, j


@test("/readyz is 503 until the registry (registry.url) answered, then "
      "200 within %.0f s; 200 at once with registry.file" % READY_BOUND_S,
      deadline=60, prom=False)
def t_readyz(ctx):
    app = webhook_stub(ctx)
    port = reserve_port()
    w = BppWorld(ctx, app.url + "/hook/{action}",
                 {"listen.admin": "127.0.0.1:0", "registry.file": None,
                  "registry.url": "http://127.0.0.1:%d" % port,
                  "registry.connect_timeout": "500ms",
                  "admin.token": ADMIN_TOKEN}, admin=True)
    w.start()
    st, j = readyz(w)
    eq(st, 503, "GET /readyz with the registry down")
    eq(j.get("ready"), False, "/readyz ready")
    checks = {c.get("check"): c for c in j.get("checks", [])}
    reg = checks.get("registry")
    check(reg is not None, "/readyz names no registry check: %r", j)
    eq(reg.get("ok"), False, "the registry check's ok")
    check(isinstance(reg.get("reason"), str) and reg["reason"],
          "the registry check has no reason: %r", reg)
    bad = [c for n, c in checks.items() if n != "registry" and
           not c.get("ok")]
    check(not bad, "other checks fail: %r", bad)
    r = http(w.admin_port, "GET", "/healthz")
    eq(r.status, 200, "GET /healthz with the registry down")
    # Still not ready a little later.
    time.sleep(2.5)
    st, j = readyz(w)
    eq(st, 503, "GET /readyz 2.5 s later, the registry still down")

    regsrv = ctx.server(StubRegistry([w.bap.record(), w.bpp.record()],
                                     port))
    t0 = time.monotonic()
    while True:
        st, j = readyz(w)
        took = time.monotonic() - t0
        if st == 200 or took > READY_BOUND_S + 5:
            break
        time.sleep(0.1)
    eq(st, 200, "GET /readyz %.1f s after the registry came up (%r)" %
       (took, j))
    check(took <= READY_BOUND_S, "/readyz became 200 %.1f s after the "
          "registry came up (bound %.0f s)", took, READY_BOUND_S)
    eq(j.get("ready"), True, "/readyz ready")
    asked = regsrv.find(lambda r: r.path.endswith("/lookup"))
    check(asked, "the registry got no POST /lookup")
    q = asked[0].json() or {}
    eq(q.get("subscriber_id"), BPP_ID, "the probe's lookup subscriber_id")

    # registry.file: ready at once.
    w2 = BppWorld(ctx, app.url + "/hook/{action}",
                  {"listen.admin": "127.0.0.1:0"}, admin=True, name="file")
    w2.start()
    st2, j2 = readyz(w2)
    eq(st2, 200, "GET /readyz at once with registry.file (%r)" % j2)
    fig("readyz: 503 with the registry down (reason %r), /healthz 200; "
        "200 %.1f s after a stub registry took the port (%d lookups "
        "seen); registry.file: 200 at once", reg["reason"], took,
        len(asked))


# ============================================================================
# 4. telemetry off
# ============================================================================

@test("telemetry off: without telemetry.url nothing is POSTed (not even "
      "an earlier run's spool); metrics still served", deadline=90)
def t_off(ctx):
    sink = ctx.server(TelemetrySink())
    app = webhook_stub(ctx)
    # Run 1: telemetry on, the sink refusing: 5 events spooled.
    w = tel_world(ctx, sink, app)
    sink.refuse(True)
    d1 = w.start()
    first = w.sign_many(5)
    check_all_acked(w.send_all(first, nconn=1), first, "run 1")
    s = wait_metrics(w, lambda s: metric(
        s, "becknd_telemetry_spool_events") == 5, 5 * SLOW)
    eq(metric(s, "becknd_telemetry_spool_events"), 5, "run 1: spooled")
    eq(len(app.wait_for(lambda r: True, 5 * SLOW, count=5)), 5,
       "run 1: webhook deliveries")
    d1.signal(signal.SIGTERM)
    eq(d1.wait_exit(10 * SLOW), 0, "run 1: exit status after SIGTERM")
    eq(len(tel_rows(w.store)), 5, "run 1: tel_event rows after the stop")

    # Run 2: the same store, no telemetry.url, the sink listening.
    sink.refuse(False)
    w.keys.pop("telemetry.url")
    with open(w.conf, "w") as f:
        f.write(w.conf_text())
    w.start()
    second = w.sign_many(5)
    check_all_acked(w.send_all(second, nconn=1), second, "run 2")
    got = app.wait_for(lambda r: True, 5 * SLOW, count=10)
    eq(len(got), 10, "webhook deliveries over both runs")
    time.sleep(3.0 * SLOW)	# ten intervals, a retry_max
    atts = sink.attempts()
    eq(len(atts), 0, "requests at the (unconfigured) sink in run 2")
    hooks = app.find(lambda r: True)
    odd = [r.path for r in hooks if r.method != "POST" or
           not r.path.startswith("/hook/search")]
    check(not odd, "requests at the webhook other than the deliveries: "
          "%r", odd[:3])
    st, hdrs, text = scrape(admin_url(w))
    eq(st, 200, "GET /metrics with telemetry off")
    s = parse_metrics(text)
    eq(metric(s, "becknd_telemetry_events_total"), 0,
       "becknd_telemetry_events_total (absent or 0)")
    eq(metric(s, "becknd_telemetry_events_sent_total"), 0,
       "becknd_telemetry_events_sent_total (absent or 0)")
    eq(metric(s, "becknd_messages_total", participant=BPP_ID,
              direction="in", action="search", outcome="ACK", code=""), 5,
       "becknd_messages_total of run 2")
    kept = metric(s, "becknd_telemetry_spool_events")
    w.d.signal(signal.SIGTERM)
    eq(w.d.wait_exit(10 * SLOW), 0, "run 2: exit status after SIGTERM")
    rows = tel_rows(w.store)
    eq(sorted(span_ids_of_events(rows)),
       sorted(c["message_id"] for b, c, a in first),
       "run 2 kept run 1's spool (tel_event spanIds)")
    fig("off: run 1 spooled 5 events (sink refusing); run 2 without "
        "telemetry.url: 5 ACKed, 0 requests at the sink, only the 10 "
        "deliveries at the webhook, telemetry_events_total 0, "
        "spool_events %s, the 5 spooled rows kept", kept)


# ============================================================================

def main():
    global TOOL, TMP
    if not os.access(BIN, os.X_OK):
        log("observe: %s is not an executable becknd (set BECKND_BIN)" % BIN)
        log("observe: 0 passed, 1 failed")
        return 1
    if not os.path.isdir(durable.FIXTURES):
        log("observe: fixtures %s missing (set BECKND_SRCDIR)" %
            durable.FIXTURES)
        log("observe: 0 passed, 1 failed")
        return 1
    TOOL = Tool(BIN, WRAPPER)
    TMP = tempfile.mkdtemp(prefix="becknd-observe-")
    started = time.monotonic()
    done = threading.Event()

    def watchdog():
        if done.wait(WATCHDOG):
            return
        log("FAIL: watchdog: the suite ran past %.0f s; stopping" % WATCHDOG)
        for c in CURRENT:
            c.kill()
        shutil.rmtree(TMP, ignore_errors=True)
        log("observe: %d passed, %d failed" % (RESULTS["pass"],
                                               RESULTS["fail"] + 1))
        os._exit(1)

    threading.Thread(target=watchdog, daemon=True).start()
    log("observe: becknd %s%s, sources %s" % (
        BIN, " under " + " ".join(WRAPPER) if WRAPPER else "", SRCDIR))
    try:
        for name, fn, deadline, prom in TESTS:
            run_one(name, fn, deadline, prom)
    except KeyboardInterrupt:
        RESULTS["fail"] += 1
        log("FAIL: interrupted")
    finally:
        done.set()
        if os.environ.get("BECKND_OBSERVE_KEEP"):
            log("observe: kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    log("observe: runtime %.1fs" % (time.monotonic() - started))
    summary = "observe: %d passed, %d failed" % (RESULTS["pass"],
                                                RESULTS["fail"])
    if RESULTS["skip"]:
        summary += ", %d skipped" % RESULTS["skip"]
    log(summary)
    if RESULTS["fail"]:
        return 1
    if RESULTS["skip"] and not RESULTS["pass"]:
        return 77
    return 0


def on_sigterm(sig, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_sigterm)
    sys.exit(main())
