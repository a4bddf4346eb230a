#!/usr/bin/env python3
"""Self-test of tests/blackbox/telsink.py: the stub telemetry sink
(answers, down, refuse and re-bind on the same port), the structural
checks of the ONEST telemetry format on a hand-made batch and on one
broken variant per rule, and the Prometheus helpers.  No becknd needed.

    python3 tests/blackbox/telsink_selftest.py [-v] [-k NAME]

The last line is "telsink: N passed, M failed"; exit 0 when all passed,
1 when any failed, 77 (skipped) when none failed but some could not run.
"""

import sys
sys.dont_write_bytecode = True

import copy
import json
import os
import socket
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bxlib  # noqa: E402
from bxlib import Fail, StubServer, check, eq, log  # noqa: E402
import telsink  # noqa: E402
from telsink import (TelemetrySink, check_batch, check_batch_ids,  # noqa: E402
                     check_event, metric, metric_sum, parse_metrics, scrape,
                     select)

VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None

# --- a hand-made batch -------------------------------------------------------

TXN = "7d1f0b5e-2c84-4a9b-b3e6-5f0a9c2d4e71"
MID = "e4a8c2f0-61d3-4b7e-9a05-c3b2d1e0f9a8"
SPAN_UUID = "9b2f6d4e1a0c48f3b7e5d2c1a0f9e8d7"
BAP = "seeker-app.courses.example.org"
BPP = "provider-app.college.example.org"
DOMAIN = "onest:learning-experiences"
START = 1736942400250000000
END = 1736942400610000000
CONTEXT = {"domain": DOMAIN, "action": "init", "transaction_id": TXN,
           "message_id": MID, "bap_id": BAP, "bpp_id": BPP}


def attr(key, kind, value):
    return {"key": key, "value": {kind: value}}


def s_attr(key, value):
    return attr(key, "stringValue", value)


def good_event():
    return {"resourceSpans": [{
        "resource": {"attributes": [
            s_attr("eid", "API"), s_attr("producer", BAP),
            s_attr("domain", DOMAIN)]},
        "scopeSpans": [{
            "scope": {"name": "network_service", "version": "1.0.0",
                      "attributes": [
                          s_attr("scope_uuid",
                                 "5c0e7a9b3d2f41e6a8c4b1f0e9d7c6a5"),
                          attr("count", "intValue", 1)]},
            "spans": [{
                "name": "init", "traceId": TXN, "spanId": MID,
                "span_uuid": SPAN_UUID,
                "startTimeUnixNano": str(START),
                "endTimeUnixNano": str(END),
                "status": "Ok",
                "attributes": [
                    s_attr("sender.id", BAP), s_attr("sender.type", "seeker"),
                    s_attr("sender.uri", "https://%s/beckn" % BAP),
                    s_attr("recipient.id", BPP),
                    s_attr("recipient.type", "provider"),
                    s_attr("recipient.uri", "https://%s/beckn" % BPP),
                    s_attr("span_uuid", SPAN_UUID),
                    s_attr("observedTimeUnixNano", "2025-01-15T12:00:00.200Z"),
                    s_attr("http.method", "POST"),
                    s_attr("http.route", "/init"),
                    s_attr("http.host", BPP),
                    s_attr("http.scheme", "https"),
                    attr("http.status.code", "intValue", 200)],
                "events": []}]}]}]}


def error_event():
    ev = good_event()
    sp = span_of(ev)
    sp["status"] = "Error"
    set_attr(sp["attributes"], "http.status.code", "intValue", 400)
    sp["events"] = [{"name": "error", "time": "2025-01-15T12:00:00.620Z",
                     "attributes": [
                         s_attr("type", "JSON-SCHEMA-ERROR"),
                         s_attr("code", "30000"),
                         s_attr("msg", "the order has no items")]}]
    return ev


def batch(*events, bid="a3f1e5c7b9d24f6e8a0c1b3d5e7f9a2c"):
    return {"data": {"id": bid, "events": list(events)}}


def span_of(ev):
    return ev["resourceSpans"][0]["scopeSpans"][0]["spans"][0]


def res_attrs(ev):
    return ev["resourceSpans"][0]["resource"]["attributes"]


def scope_attrs(ev):
    return ev["resourceSpans"][0]["scopeSpans"][0]["scope"]["attributes"]


def set_attr(lst, key, kind, value):
    for a in lst:
        if a["key"] == key:
            a["value"] = {kind: value}
            return
    lst.append(attr(key, kind, value))


def drop_attr(lst, key):
    lst[:] = [a for a in lst if a["key"] != key]


SPAN = "data.events[0].resourceSpans[0].scopeSpans[0].spans[0]"
RES = "data.events[0].resourceSpans[0].resource.attributes"
SCOPE = "data.events[0].resourceSpans[0].scopeSpans[0].scope.attributes"


def broken_variants():
    """(what, mutate(body) in place, path the Fail must name)."""
    v = []

    def on_event(fn):
        return lambda b: fn(b["data"]["events"][0])

    def on_span(fn):
        return lambda b: fn(span_of(b["data"]["events"][0]))

    v.append(("no data.id", lambda b: b["data"].pop("id"), "data.id"))
    v.append(("empty data.id", lambda b: b["data"].update(id=""), "data.id"))
    v.append(("numeric data.id", lambda b: b["data"].update(id=7), "data.id"))
    v.append(("no data", lambda b: b.pop("data"), "data"))
    v.append(("empty events", lambda b: b["data"].update(events=[]),
              "data.events"))
    v.append(("events not an array",
              lambda b: b["data"].update(events={"a": 1}), "data.events"))
    v.append(("two kinds", on_event(lambda e: e.update(resourceLogs=[])),
              "data.events[0]: has resourceSpans and resourceLogs"))
    v.append(("no kind", on_event(lambda e: e.pop("resourceSpans")),
              "data.events[0]: has none"))
    v.append(("no eid", on_event(lambda e: drop_attr(res_attrs(e), "eid")),
              RES + ": no eid"))
    v.append(("eid TRACE", on_event(
        lambda e: set_attr(res_attrs(e), "eid", "stringValue", "TRACE")),
        RES + ": eid 'TRACE'"))
    v.append(("eid METRIC on spans", on_event(
        lambda e: set_attr(res_attrs(e), "eid", "stringValue", "METRIC")),
        RES + ": eid of a resourceSpans event"))
    v.append(("no producer",
              on_event(lambda e: drop_attr(res_attrs(e), "producer")),
              RES + ": no producer"))
    v.append(("no domain",
              on_event(lambda e: drop_attr(res_attrs(e), "domain")),
              RES + ": no domain"))
    v.append(("attribute without key", on_event(
        lambda e: res_attrs(e)[1].pop("key")), RES + "[1]: members"))
    v.append(("attribute with an extra member", on_event(
        lambda e: res_attrs(e)[1].update(type="string")),
        RES + "[1]: members"))
    v.append(("attribute key not a string", on_event(
        lambda e: res_attrs(e)[1].update(key=5)), RES + "[1].key"))
    v.append(("value with two kinds", on_span(
        lambda s: s["attributes"][0]["value"].update(intValue=3)),
        SPAN + ".attributes[0].value: 2 of"))
    v.append(("value of an unknown kind", on_span(
        lambda s: s["attributes"][0].update(value={"bytesValue": "AA=="})),
        SPAN + ".attributes[0].value: unknown member bytesValue"))
    v.append(("value not an object", on_span(
        lambda s: s["attributes"][0].update(value="x")),
        SPAN + ".attributes[0].value: not an object"))
    v.append(("intValue as a string", on_span(
        lambda s: set_attr(s["attributes"], "http.status.code", "intValue",
                           "200")),
        SPAN + ".attributes[12].value.intValue"))
    v.append(("http.status.code a string", on_span(
        lambda s: set_attr(s["attributes"], "http.status.code",
                           "stringValue", "200")),
        SPAN + ".attributes: http.status.code is stringValue"))
    v.append(("bad value in a kvlist", on_span(
        lambda s: s["attributes"].append(attr("extra", "kvlistValue", {
            "values": [{"key": "k", "value": {"boolValue": "yes"}}]}))),
        SPAN + ".attributes[13].value.kvlistValue.values[0].value.boolValue"))
    v.append(("bad value in an array", on_span(
        lambda s: s["attributes"].append(attr("extra", "arrayValue", {
            "values": [{"stringValue": "a"}, {"intValue": 1.5}]}))),
        SPAN + ".attributes[13].value.arrayValue.values[1].intValue"))
    v.append(("duplicate attribute", on_span(
        lambda s: s["attributes"].append(s_attr("sender.id", "x"))),
        SPAN + ".attributes: duplicate key 'sender.id'"))
    v.append(("name not an action", on_span(lambda s: s.update(name="browse")),
              SPAN + ".name: 'browse' is not a Beckn action"))
    v.append(("no name", on_span(lambda s: s.pop("name")), SPAN + ".name"))
    v.append(("no traceId", on_span(lambda s: s.pop("traceId")),
              SPAN + ".traceId"))
    v.append(("empty spanId", on_span(lambda s: s.update(spanId="")),
              SPAN + ".spanId"))
    v.append(("start a number", on_span(
        lambda s: s.update(startTimeUnixNano=START)),
        SPAN + ".startTimeUnixNano: not a string of digits"))
    v.append(("end with a fraction", on_span(
        lambda s: s.update(endTimeUnixNano=str(END) + ".5")),
        SPAN + ".endTimeUnixNano: not a string of digits"))
    v.append(("start in milliseconds", on_span(
        lambda s: s.update(startTimeUnixNano=str(START // 1000000))),
        SPAN + ".startTimeUnixNano: 1736942400250 is not Unix nanoseconds"))
    v.append(("end before start", on_span(
        lambda s: s.update(endTimeUnixNano=str(START - 1))),
        SPAN + ": endTimeUnixNano"))
    v.append(("status OK", on_span(lambda s: s.update(status="OK")),
              SPAN + ".status: 'OK'"))
    v.append(("status as an object", on_span(
        lambda s: s.update(status={"code": 1})), SPAN + ".status"))
    for k in telsink.REQUIRED_SPAN_ATTRS:
        v.append(("no " + k, on_span(
            lambda s, k=k: drop_attr(s["attributes"], k)),
            SPAN + ".attributes: no " + k))
    v.append(("no span attributes", on_span(lambda s: s.pop("attributes")),
              SPAN + ": no attributes"))
    v.append(("empty http.route", on_span(
        lambda s: set_attr(s["attributes"], "http.route", "stringValue", "")),
        SPAN + ".attributes: http.route is empty"))
    v.append(("count 2", on_event(
        lambda e: set_attr(scope_attrs(e), "count", "intValue", 2)),
        SCOPE + ": count 2, and 1 span(s)"))
    v.append(("no count", on_event(
        lambda e: drop_attr(scope_attrs(e), "count")), SCOPE + ": no count"))
    v.append(("no scope", on_event(
        lambda e: e["resourceSpans"][0]["scopeSpans"][0].pop("scope")),
        "data.events[0].resourceSpans[0].scopeSpans[0].scope"))
    v.append(("no spans", on_event(
        lambda e: e["resourceSpans"][0]["scopeSpans"][0].update(spans=[])),
        "data.events[0].resourceSpans[0].scopeSpans[0].spans"))
    v.append(("no span-level span_uuid", on_span(lambda s: s.pop("span_uuid")),
              SPAN + ": no span_uuid member"))
    v.append(("span_uuid mismatch", on_span(
        lambda s: s.update(span_uuid="0" * 32)), SPAN + ".span_uuid"))
    v.append(("Error without an error event", on_span(
        lambda s: s.update(status="Error")),
        SPAN + ".events: status Error and no \"error\" event"))
    v.append(("Ok with 500", on_span(lambda s: set_attr(
        s["attributes"], "http.status.code", "intValue", 500)),
        SPAN + ".attributes: status Ok and http.status.code 500"))
    v.append(("member message", on_span(
        lambda s: s.update(message={"order": {}})),
        SPAN + ": member 'message'"))
    v.append(("request_info event", on_span(lambda s: s["events"].append(
        {"name": "request_info", "attributes": []})),
        SPAN + ".events[0].name: 'request_info'"))
    v.append(("reqBody attribute", on_span(lambda s: s["attributes"].append(
        s_attr("reqBody", "{}"))), SPAN + ".attributes[13].key: 'reqBody'"))
    v.append(("resBody in a kvlist", on_span(
        lambda s: s["attributes"].append(attr("extra", "kvlistValue", {
            "values": [s_attr("resBody", "{}")]}))),
        SPAN + ".attributes[13].value.kvlistValue.values[0].key: 'resBody'"))
    v.append(("response_info member", on_event(
        lambda e: e["resourceSpans"][0].update(response_info={})),
        "data.events[0].resourceSpans[0]: member 'response_info'"))
    v.append(("long string", on_span(lambda s: s["attributes"].append(
        s_attr("note", "\u00e9" * 1025))),
        SPAN + ".attributes[13].value.stringValue: a string of 2050 bytes"))
    return v


def error_variants():
    v = []
    for k in ("type", "code", "msg"):
        def f(b, k=k):
            drop_attr(span_of(b["data"]["events"][0])["events"][0]
                      ["attributes"], k)
        v.append(("error event without " + k, f,
                  SPAN + ".events[0].attributes: no " + k))
    return v


# --- the cases ---------------------------------------------------------------

def expect_fail(fn, path, what):
    try:
        fn()
    except Fail as e:
        check(path in str(e), "%s: Fail %r does not name %r", what, str(e),
              path)
        return str(e)
    raise Fail("%s: accepted" % what)


def t_good_batch(ctx):
    b = batch(good_event())
    sums = check_batch(b)
    eq(len(sums), 1, "summaries")
    s = sums[0]
    for k, want in (("kind", "resourceSpans"), ("eid", "API"),
                    ("producer", BAP), ("domain", DOMAIN), ("name", "init"),
                    ("traceId", TXN), ("spanId", MID),
                    ("span_uuid", SPAN_UUID), ("status", "Ok"),
                    ("start", START), ("end", END), ("http_status", 200),
                    ("sender_id", BAP), ("recipient_id", BPP),
                    ("error", None), ("spans", 1)):
        eq(s[k], want, "summary " + k)
    eq(s["attrs"]["http.scheme"], "https", "summary attrs http.scheme")
    # The same from bytes and text; and check_event on its own.
    eq(check_batch(json.dumps(b).encode()), sums, "from bytes")
    eq(check_batch(json.dumps(b)), sums, "from text")
    eq(check_event(good_event(), expect=CONTEXT, window=(START, END)), s,
       "check_event with expect and window")
    eq(len(select(sums, name="init", producer=BAP)), 1, "select")
    eq(select(sums, name="on_init"), [], "select none")
    # The good one with every optional value kind, an empty recipient
    # (a broadcast search) and status Unset with a 500.
    ev = good_event()
    sp = span_of(ev)
    sp["name"] = "search"
    set_attr(sp["attributes"], "recipient.id", "stringValue", "")
    sp["status"] = "Unset"
    set_attr(sp["attributes"], "http.status.code", "intValue", 500)
    sp["attributes"] += [
        attr("b", "boolValue", False), attr("d", "doubleValue", 1.5),
        attr("items", "arrayValue", {"values": [{"stringValue": "I1"},
                                                {"intValue": 2}]}),
        attr("kv", "kvlistValue", {"values": [s_attr("a", "b")]})]
    s2 = check_event(ev)
    eq(s2["recipient_id"], "", "empty recipient")
    eq(s2["attrs"]["items"], ["I1", 2], "arrayValue summary")
    eq(s2["attrs"]["kv"], {"a": "b"}, "kvlist summary")


def t_error_batch(ctx):
    s = check_batch(batch(error_event()))[0]
    eq(s["status"], "Error", "status")
    eq(s["http_status"], 400, "http_status")
    eq(s["error"], {"type": "JSON-SCHEMA-ERROR", "code": "30000",
                    "msg": "the order has no items"}, "error")
    for what, mutate, path in error_variants():
        b = batch(error_event())
        mutate(b)
        expect_fail(lambda: check_batch(b), path, what)


def t_broken_variants(ctx):
    n = 0
    for what, mutate, path in broken_variants():
        b = batch(good_event())
        mutate(b)
        msg = expect_fail(lambda: check_batch(b), path, what)
        if VERBOSE:
            log("  %s -> %s" % (what, msg))
        n += 1
    check(n >= 40, "only %d variants", n)
    # The second event of a batch is named as such.
    b = batch(good_event(), good_event())
    span_of(b["data"]["events"][1]).pop("spanId")
    expect_fail(lambda: check_batch(b), "data.events[1].resourceSpans[0]."
                "scopeSpans[0].spans[0].spanId", "second event")
    # Not JSON / not an object.
    expect_fail(lambda: check_batch(b"{not json"), "batch: not JSON",
                "junk body")
    expect_fail(lambda: check_batch([1]), "batch: not an object", "array")


def t_expect_and_window(ctx):
    ev = good_event()
    span = "event.resourceSpans[0].scopeSpans[0].spans[0]"
    for k, bad, path in (
            ("transaction_id", "other-txn", span + ".traceId"),
            ("message_id", "other-mid", span + ".spanId"),
            ("action", "on_init", span + ".name"),
            ("domain", "onest:other",
             "event.resourceSpans[0].resource.attributes: domain")):
        ctx_bad = dict(CONTEXT, **{k: bad})
        expect_fail(lambda: check_event(ev, expect=ctx_bad), path,
                    "expect " + k)
    expect_fail(lambda: check_event(ev, window=(START + 1, END)),
                "event.resourceSpans[0].scopeSpans[0].spans[0]: start",
                "window start")
    expect_fail(lambda: check_event(ev, window=(START, END - 1)),
                "event.resourceSpans[0].scopeSpans[0].spans[0]: start",
                "window end")
    # A METRIC event: resource and attribute checks only.
    m = {"resourceMetrics": [{
        "resource": {"attributes": [s_attr("eid", "METRIC"),
                                    s_attr("producer", BAP),
                                    s_attr("domain", DOMAIN)]},
        "scopeMetrics": [{"metrics": [{
            "name": "applications", "unit": "1",
            "sum": {"aggregationTemporality": 2, "isMonotonic": True,
                    "dataPoints": [{"asDouble": 3.0, "attributes": [
                        s_attr("metric.code", "applications_made")]}]}}]}]}]}
    s = check_event(m)
    eq((s["kind"], s["eid"], s["name"], s["spans"]),
       ("resourceMetrics", "METRIC", None, 0), "METRIC summary")
    m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"][
        "dataPoints"][0]["attributes"][0]["value"] = {}
    expect_fail(lambda: check_event(m),
                "event.resourceMetrics[0].scopeMetrics[0].metrics[0].sum."
                "dataPoints[0].attributes[0].value: 0 of", "METRIC attr")


def t_batch_ids(ctx):
    a = batch(good_event(), bid="one")
    b = batch(good_event(), bid="two")
    eq(check_batch_ids([a, b]), {"one": 0, "two": 1}, "ids")
    expect_fail(lambda: check_batch_ids([a, b, copy.deepcopy(a)]),
                "batches[2].data.id: 'one' also in batches[0]", "duplicate")
    expect_fail(lambda: check_batch_ids([{"data": {}}]), "batches[0]: no "
                "data.id", "no id")


def post(sink, body, path=None):
    return bxlib.http(sink.port, "POST", path or
                      sink.url.split(str(sink.port), 1)[1],
                      body=body if isinstance(body, bytes) else
                      json.dumps(body).encode())


def t_sink(ctx):
    sink = ctx.sink()
    check(sink.url.startswith("http://127.0.0.1:%d/data/v1/in/test-dataset" %
                              sink.port) and sink.port > 0, "url %s",
          sink.url)
    b1 = batch(good_event(), bid="b1")
    t0 = time.time_ns()
    r = post(sink, b1)
    eq(r.status, 200, "status")
    eq(r.json(), telsink.OK_BODY, "answer body")
    check("application/json" in (r.header("Content-Type") or ""),
          "content type %r", r.header("Content-Type"))
    eq(sink.batches(), [b1], "batches")
    eq(len(sink.events()), 1, "events")
    a = sink.attempts()[0]
    eq((a.method, a.path, a.status, a.accepted),
       ("POST", "/data/v1/in/test-dataset", 200, True), "attempt")
    eq(a.json, b1, "attempt json")
    eq(a.body, json.dumps(b1).encode(), "attempt raw body")
    check(t0 <= a.time_ns <= time.time_ns(), "arrival time %d", a.time_ns)
    eq(a.header("content-type"), "application/json", "attempt header")
    # Any path; .status override: recorded, not accepted.
    sink.status = 400
    r = post(sink, batch(good_event(), bid="b2"), path="/elsewhere")
    eq(r.status, 400, "status override")
    eq(r.json()["responseCode"], "BAD_REQUEST", "400 body")
    sink.status = None
    # down(): 503, recorded.
    sink.down(True)
    eq(post(sink, batch(good_event(), bid="b3")).status, 503, "down")
    sink.down(False)
    # fail_next(): the next one only.
    sink.fail_next(1, 500)
    eq(post(sink, batch(good_event(), bid="b4")).status, 500, "fail_next")
    eq(post(sink, b"not json").status, 200, "after fail_next")
    eq([a.status for a in sink.attempts()], [200, 400, 503, 500, 200],
       "attempt statuses")
    eq(sink.attempts()[1].path, "/elsewhere", "any path")
    eq(len(sink.batches()), 2, "only 2xx batches")
    eq(sink.batches()[1], None, "unparsable body")
    eq(len(sink.events()), 1, "events of accepted batches")
    # wait_events: returns at once when there are enough, else at the
    # deadline with what there is.
    t = time.monotonic()
    eq(len(sink.wait_events(1, 5)), 1, "wait_events ready")
    eq(len(sink.wait_events(2, 0.3)), 1, "wait_events short")
    check(0.25 <= time.monotonic() - t < 3, "wait_events deadline")


def t_sink_wait(ctx):
    sink = ctx.sink()
    got = []
    th = threading.Timer(0.3, lambda: got.append(post(
        sink, batch(good_event(), good_event(), bid="late"))))
    th.start()
    t = time.monotonic()
    evs = sink.wait_events(2, 10)
    eq(len(evs), 2, "events after waiting")
    check(time.monotonic() - t < 5, "waited too long")
    th.join(10)
    eq([r.status for r in got], [200], "the poster's answer")


def t_refuse_rebind(ctx):
    sink = ctx.sink()
    url, port = sink.url, sink.port
    # A kept-alive connection is cut by refuse() too.
    import http.client as hc
    conn = hc.HTTPConnection("127.0.0.1", port, timeout=5)
    r = bxlib.http(port, "POST", "/data/v1/in/test-dataset",
                   body=json.dumps(batch(good_event(), bid="r1")).encode(),
                   conn=conn)
    eq(r.status, 200, "before refuse")
    check(r.header("Connection") != "close", "keep-alive by default")
    sink.refuse(True)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        raise Fail("connection accepted while refusing")
    except ConnectionRefusedError:
        pass
    try:
        bxlib.http(port, "POST", "/x", body=b"{}", conn=conn)
        raise Fail("the kept-alive connection still answers")
    except (OSError, hc.HTTPException):
        pass
    conn.close()
    sink.refuse(True)			# twice is fine
    sink.refuse(False)
    eq((sink.url, sink.port), (url, port), "same url after re-bind")
    eq(post(sink, batch(good_event(), bid="r2")).status, 200, "after re-bind")
    eq([b["data"]["id"] for b in sink.batches()], ["r1", "r2"], "batches")
    sink.refuse(False)			# listening already: nothing
    # Several rounds in a row, each with a fresh connection.
    for i in range(3):
        sink.refuse(True)
        sink.refuse(False)
        eq(post(sink, batch(good_event(), bid="x%d" % i)).status, 200,
           "round %d" % i)
    eq(sink.port, port, "port after rounds")
    # refuse() while answering: the answer still goes out, then closes.
    sink.delay = 0.6
    got = []
    th = threading.Thread(target=lambda: got.append(post(
        sink, batch(good_event(), bid="mid"))))
    th.start()
    sink.wait_attempts(len(sink.attempts()) + 1, 0.2)	# in its delay
    sink.refuse(True)
    th.join(10)
    eq([(r.status, r.header("Connection")) for r in got], [(200, "close")],
       "answer in flight at refuse()")
    sink.delay = 0.0
    sink.refuse(False)
    # keepalive=False closes after each answer.
    s2 = ctx.sink(keepalive=False)
    r = post(s2, batch(good_event()))
    eq(r.header("Connection"), "close", "keepalive=False")


def t_delay(ctx):
    sink = ctx.sink()
    sink.delay = 1.0
    try:
        bxlib.http(sink.port, "POST", "/d", body=b"{}", timeout=0.3)
        raise Fail("answered before the delay")
    except socket.timeout:
        pass
    t = time.monotonic()
    a = sink.wait_attempts(1, 5)
    eq(len(a), 1, "attempt recorded")
    eq(a[0].status, 200, "status after the delay")
    check(time.monotonic() - t > 0.4, "recorded before the delay ran out")


PROM_TEXT = """\
# HELP becknd_messages_total Beckn messages handled.
# TYPE becknd_messages_total counter
becknd_messages_total{direction="in",action="search",outcome="ack"} 7
becknd_messages_total{direction="in",action="init",outcome="nack"} 2
becknd_messages_total{direction="out",action="on_search",outcome="ack"} 5
# HELP becknd_telemetry_spooled Telemetry events held.
# TYPE becknd_telemetry_spooled gauge
becknd_telemetry_spooled 3
# HELP becknd_request_seconds Request latency.
# TYPE becknd_request_seconds histogram
becknd_request_seconds_bucket{le="0.01"} 4
becknd_request_seconds_bucket{le="0.1"} 9
becknd_request_seconds_bucket{le="+Inf"} 10
becknd_request_seconds_sum 0.625
becknd_request_seconds_count 10
# HELP becknd_label_escapes Escaped label values.
# TYPE becknd_label_escapes gauge
becknd_label_escapes{v="a\\"b\\\\c\\nd"} 1
"""


def t_prometheus(ctx):
    s = parse_metrics(PROM_TEXT)
    eq(metric(s, "becknd_messages_total", direction="in", action="search",
              outcome="ack"), 7, "one series")
    eq(metric(s, "becknd_messages_total", direction="in"), 0,
       "partial labels are not a series")
    eq(metric_sum(s, "becknd_messages_total", direction="in"), 9, "sum in")
    eq(metric_sum(s, "becknd_messages_total"), 14, "sum all")
    eq(metric_sum(s, "becknd_messages_total", outcome="none"), 0, "sum none")
    eq(metric(s, "becknd_telemetry_spooled"), 3, "gauge")
    eq(metric(s, "becknd_request_seconds_bucket", le="+Inf"), 10, "+Inf")
    eq(metric(s, "becknd_request_seconds_bucket", le=0.1), 9, "le as float")
    eq(metric(s, "becknd_request_seconds_sum"), 0.625, "histogram sum")
    eq(metric(s, "becknd_request_seconds_count"), 10, "histogram count")
    eq(metric(s, "becknd_label_escapes", v='a"b\\c\nd'), 1, "escapes")
    eq(metric(s, "becknd_absent_total"), 0, "absent")
    eq(sorted(d["action"] for d in telsink.series(s, "becknd_messages_total")),
       ["init", "on_search", "search"], "series")
    expect_fail(lambda: parse_metrics(PROM_TEXT + "becknd_telemetry_spooled "
                                      "4\n"), "given twice", "duplicate")
    expect_fail(lambda: parse_metrics("becknd_x{a=\"1\" 2\n"),
                "does not parse", "junk")


class MetricsStub(StubServer):
    def handler(self, req):
        if req.header("Authorization") != "Bearer s3cret":
            return 401, [("WWW-Authenticate", "Bearer")], b"no\n"
        return 200, [("Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8")], \
            PROM_TEXT.encode()


def t_scrape(ctx):
    srv = MetricsStub("metrics")
    ctx.servers.append(srv)
    st, hdrs, text = scrape(srv.url + "/metrics")
    eq(st, 401, "no token")
    eq(hdrs.get("www-authenticate"), "Bearer", "challenge")
    st, hdrs, text = scrape(srv.url + "/metrics", token="s3cret")
    eq(st, 200, "with token")
    eq(hdrs["content-type"], "text/plain; version=0.0.4; charset=utf-8",
       "content type")
    eq(metric(parse_metrics(text), "becknd_telemetry_spooled"), 3, "scraped")
    eq(srv.requests[-1].path, "/metrics", "path")


CASES = [
    ("good batch", t_good_batch),
    ("error batch", t_error_batch),
    ("broken variants", t_broken_variants),
    ("expect and window", t_expect_and_window),
    ("batch ids", t_batch_ids),
    ("sink answers", t_sink),
    ("sink wait_events", t_sink_wait),
    ("sink refuse and re-bind", t_refuse_rebind),
    ("sink delay", t_delay),
    ("prometheus parse", t_prometheus),
    ("prometheus scrape", t_scrape),
]


class Ctx:
    def __init__(self):
        self.daemons = []
        self.sinks = []
        self.servers = []

    def sink(self, **kw):
        s = TelemetrySink(**kw)
        self.sinks.append(s)
        return s

    def kill(self):
        self.cleanup()

    def cleanup(self):
        for s in self.sinks:
            s.close()
        for s in self.servers:
            s.stop()
        self.sinks, self.servers = [], []
        return []


def main():
    results = {"pass": 0, "fail": 0, "skip": 0}
    for name, fn in CASES:
        if ONLY and ONLY not in name:
            continue
        bxlib.run_case(name, fn, Ctx(), 60, results, VERBOSE)
    line = "telsink: %d passed, %d failed" % (results["pass"],
                                              results["fail"])
    if results["skip"]:
        line += ", %d skipped" % results["skip"]
    log(line)
    if results["fail"]:
        return 1
    return 77 if results["skip"] else 0


if __name__ == "__main__":
    sys.exit(main())
