"""telsink - pieces for tests of becknd's ONEST telemetry and its
Prometheus metrics (Python 3 standard library; parse_metrics() also needs
python3-prometheus-client).

  TelemetrySink    a stub observability platform: an HTTP/1.1 server on
                   127.0.0.1 that records every POST (any path) and answers
                   as the platform's ingest API does (200 and its JSON
                   body), or 503 while down(), or a chosen status; refuse()
                   closes its listening socket and re-binds the same port
  check_batch()    the structural checks of one batch body of the ONEST
  check_event()    telemetry format / of one event in it; a Fail names the
                   JSON path of the first problem; check_event() returns a
                   flat summary of the event for easy assertions
  check_batch_ids()  each accepted batch id once
  scrape(), parse_metrics(), metric(), metric_sum()
                   GET /metrics and read its samples

The format, as checked here: a batch is {"data":{"id":ID,"events":[...]}}
and each event one {"resourceSpans":[...]} (eid API), {"resourceMetrics":
[...]} (eid METRIC) or {"resourceLogs":[...]} (eid AUDIT) document shaped
like OTLP JSON, with Beckn ids (traceId = transaction_id, spanId =
message_id), times as decimal strings of Unix nanoseconds, a bare status
string and integer attributes as JSON numbers.  No message body: only ids,
times, status and configured properties.
"""

import http.client as httpclient
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bxlib import Fail, Skip, check, eq, read_body

HTTP_TIMEOUT = 15.0

BECKN_ACTIONS = ("search", "select", "init", "confirm", "status", "track",
                 "cancel", "update", "rating", "support")
# Core 1.1.0's meta actions and their answers have no on_ pair.
META_ACTIONS = ("get_cancellation_reasons", "cancellation_reasons",
                "get_rating_categories", "rating_categories",
                "get_return_reasons", "return_reasons")
ACTIONS = frozenset(BECKN_ACTIONS + tuple("on_" + a for a in BECKN_ACTIONS)
                    + META_ACTIONS)
VALUE_KINDS = ("stringValue", "intValue", "boolValue", "doubleValue",
               "arrayValue", "kvlistValue")
# Event kind -> (its eid, the scope list member, the item list member).
EVENT_KINDS = {
    "resourceSpans": ("API", "scopeSpans", "spans"),
    "resourceMetrics": ("METRIC", "scopeMetrics", "metrics"),
    "resourceLogs": ("AUDIT", "scopeLogs", "logRecords"),
}
SPAN_STATUSES = ("Ok", "Error", "Unset")
REQUIRED_SPAN_ATTRS = ("sender.id", "recipient.id", "span_uuid",
                       "observedTimeUnixNano", "http.method", "http.route",
                       "http.host", "http.status.code")
# Keys (object members, attribute keys, event names) that would carry a
# message body.
BODY_KEYS = frozenset(("message", "reqBody", "resBody", "request_info",
                       "response_info"))
MAX_STRING_BYTES = 2048
# Unix nanoseconds have 19 digits since 2001; milliseconds (13) are a bug.
MIN_UNIX_NS = 10 ** 18

OK_BODY = {"id": "api.dataset.data.in", "params": {"status": "SUCCESS"},
           "responseCode": "OK",
           "result": {"message": "The data has been successfully ingested"}}
REASONS = {400: "BAD_REQUEST", 404: "NOT_FOUND", 500: "INTERNAL_SERVER_ERROR",
           503: "SERVICE_UNAVAILABLE"}


# --- the sink ----------------------------------------------------------------

class Attempt:
    """One request the sink read (and answered with status)."""

    def __init__(self, method, path, headers, body):
        self.time_ns = time.time_ns()	# arrival, Unix ns (as span times)
        self.mono = time.monotonic()
        self.method = method
        self.path = path
        self.headers = headers		# list of (name, value)
        self.body = body		# raw bytes
        try:
            self.json = json.loads(body.decode("utf-8"))
        except ValueError:		# also UnicodeDecodeError
            self.json = None
        self.status = None		# what the sink answered
        # False once writing the answer failed (the client had gone).
        # A client that timed out may still look answered: the kernel
        # takes the bytes.
        self.answered = True

    @property
    def accepted(self):
        return self.status is not None and 200 <= self.status < 300 and \
            self.answered

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%s %s -> %s, %d bytes>" % (self.method, self.path,
                                            self.status, len(self.body))


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30			# idle keep-alive connections

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.server.sink._opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.sink._closed(self.connection)

    def _read_body(self):
        return read_body(self)

    def _serve(self):
        sink = self.server.sink
        sink._busy(self.connection, True)
        try:
            self._answer(sink)
        finally:
            sink._busy(self.connection, False)

    def _answer(self, sink):
        att = Attempt(self.command, self.path, list(self.headers.items()),
                      self._read_body())
        status, body, delay = sink._answer(att)
        if delay:
            time.sleep(delay)
        att.status = status
        # Recorded before the answer goes out: whoever saw the answer
        # finds the attempt.
        sink._record(att)
        # refuse(True) or close() came while answering: the last answer.
        close = not sink.keepalive or self.server.stopped or \
            (self.headers.get("Connection") or "").lower() == "close"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            att.answered = False
            close = True
        self.close_connection = close or self.server.stopped

    do_POST = _serve
    do_PUT = _serve
    do_GET = _serve


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True		# SO_REUSEADDR: refuse(False) re-binds
    stopped = False

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return			# a client went away: not news
        super().handle_error(request, client_address)


class TelemetrySink:
    """A stub ingest endpoint on 127.0.0.1 (port 0 unless given).

    Answers, in this order of precedence: 503 while down(True); the next
    status queued by fail_next(); .status when set (e.g. 400); else 200
    with the platform's success body.  .delay (seconds) holds every
    answer back.  keepalive=False closes every connection after one
    answer.  Every request is recorded as an Attempt just before its
    answer is written, so a client that has the answer finds it in
    attempts(); connections refused while refuse(True) leave no trace.
    A .delay past the client's timeout can make the sink accept a batch
    the client will send again (the same data.id twice)."""

    def __init__(self, dataset="test-dataset", port=0, keepalive=True):
        self.dataset = dataset
        self.keepalive = keepalive
        self.status = None
        self.delay = 0.0
        self._down = False
        self._queue = []
        self._attempts = []
        self._conns = set()
        self._answering = set()
        self.cond = threading.Condition()
        self.srv = None
        self.port = port
        self._start()

    # server life

    def _start(self):
        err = None
        for _ in range(50):		# the port was ours a moment ago
            try:
                self.srv = _SinkServer(("127.0.0.1", self.port), _SinkHandler)
                break
            except OSError as e:
                err = e
                time.sleep(0.1)
        else:
            raise Fail("telemetry sink: cannot bind 127.0.0.1:%d: %s" %
                       (self.port, err))
        self.srv.sink = self
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _stop(self):
        if self.srv is None:
            return
        self.srv.stopped = True
        self.srv.shutdown()
        self.srv.server_close()
        self.srv = None
        # Idle kept-alive connections are cut; one being answered closes
        # once its answer is out (an accepted batch is never cut off).
        with self.cond:
            conns = [c for c in self._conns if c not in self._answering]
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self._stop()

    @property
    def url(self):
        return "http://127.0.0.1:%d/data/v1/in/%s" % (self.port, self.dataset)

    # behaviour switches

    def down(self, on=True):
        """On: answer every request 503 (the platform is unavailable)."""
        self._down = bool(on)

    def refuse(self, on=True):
        """On: close the listening socket and every open connection (one
        being answered once its answer is out), so connections are
        refused.  Off: listen again on the same port (the
        same url)."""
        if on:
            self._stop()
        elif self.srv is None:
            self._start()

    def fail_next(self, n=1, status=503):
        """Answer the next n requests with status, then as before."""
        with self.cond:
            self._queue.extend([status] * n)

    def _answer(self, att):
        with self.cond:
            queued = self._queue.pop(0) if self._queue else None
        if self._down:
            status = 503
        elif queued is not None:
            status = queued
        elif self.status is not None:
            status = self.status
        else:
            status = 200
        if 200 <= status < 300:
            body = OK_BODY
        else:
            reason = REASONS.get(status, "FAILED")
            body = {"id": "api.dataset.data.in",
                    "params": {"status": "FAILED", "errmsg": reason},
                    "responseCode": reason, "result": {}}
        return status, json.dumps(body).encode(), self.delay

    def _opened(self, conn):
        with self.cond:
            self._conns.add(conn)

    def _closed(self, conn):
        with self.cond:
            self._conns.discard(conn)

    def _busy(self, conn, on):
        with self.cond:
            if on:
                self._answering.add(conn)
            else:
                self._answering.discard(conn)

    def _record(self, att):
        with self.cond:
            self._attempts.append(att)
            self.cond.notify_all()

    # what arrived

    def attempts(self):
        """Every request answered, accepted or not (Attempt objects:
        .method .path .headers .body .json .time_ns .mono .status
        .answered .accepted)."""
        with self.cond:
            return list(self._attempts)

    def accepted(self):
        return [a for a in self.attempts() if a.accepted]

    def batches(self):
        """The parsed bodies of the requests answered 2xx."""
        return [a.json for a in self.accepted()]

    def events(self):
        """The events of the accepted batches, in arrival order (a body
        without data.events gives none; check_batch() says why)."""
        out = []
        for b in self.batches():
            try:
                evs = b["data"]["events"]
            except (TypeError, KeyError):
                continue
            if isinstance(evs, list):
                out.extend(evs)
        return out

    def wait_events(self, n, timeout):
        """The accepted events once there are at least n, or all there
        are when timeout (seconds) ran out."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                evs = self.events()
                left = deadline - time.monotonic()
                if len(evs) >= n or left <= 0:
                    return evs
                self.cond.wait(min(left, 0.2))

    def wait_attempts(self, n, timeout):
        """All attempts once there are at least n (or at the timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                left = deadline - time.monotonic()
                if len(self._attempts) >= n or left <= 0:
                    return list(self._attempts)
                self.cond.wait(min(left, 0.2))


# --- structural checks -------------------------------------------------------

def _idx(path, i):
    return "%s[%d]" % (path, i)


def _mem(path, key):
    return "%s.%s" % (path, key) if path else key


def _value(v, path):
    """Check one attribute value; return (kind, python value)."""
    check(isinstance(v, dict), "%s: not an object: %.80r", path, v)
    kinds = [k for k in v if k in VALUE_KINDS]
    other = sorted(k for k in v if k not in VALUE_KINDS)
    check(not other, "%s: unknown member %s", path, ", ".join(other))
    check(len(kinds) == 1, "%s: %d of %s, want exactly one", path,
          len(kinds), "|".join(VALUE_KINDS))
    k = kinds[0]
    x = v[k]
    p = _mem(path, k)
    if k == "stringValue":
        check(isinstance(x, str), "%s: not a string: %.80r", p, x)
    elif k == "intValue":
        check(isinstance(x, int) and not isinstance(x, bool),
              "%s: not a JSON integer: %.80r", p, x)
    elif k == "boolValue":
        check(isinstance(x, bool), "%s: not a boolean: %.80r", p, x)
    elif k == "doubleValue":
        check(isinstance(x, (int, float)) and not isinstance(x, bool),
              "%s: not a number: %.80r", p, x)
    elif k == "arrayValue":
        check(isinstance(x, dict) and isinstance(x.get("values"), list),
              "%s: not {\"values\":[...]}", p)
        x = [_value(e, _idx(_mem(p, "values"), i))[1]
             for i, e in enumerate(x["values"])]
    else:
        check(isinstance(x, dict) and isinstance(x.get("values"), list),
              "%s: not {\"values\":[...]}", p)
        x = {key: val for key, (_, val) in
             _attrs(x["values"], _mem(p, "values")).items()}
    return k, x


def _attrs(lst, path):
    """Check an attribute list; return {key: (kind, python value)}."""
    check(isinstance(lst, list), "%s: not an array", path)
    out = {}
    for i, a in enumerate(lst):
        p = _idx(path, i)
        check(isinstance(a, dict), "%s: not an object", p)
        check(set(a) == {"key", "value"}, "%s: members %s, want key and "
              "value", p, sorted(a))
        key = a["key"]
        check(isinstance(key, str) and key != "", "%s.key: not a non-empty "
              "string: %.80r", p, key)
        check(key not in out, "%s: duplicate key %r", path, key)
        check(key not in BODY_KEYS, "%s.key: %r (a message body?)", p, key)
        out[key] = _value(a["value"], _mem(p, "value"))
    return out


def _all_attrs(obj, path):
    """Check every "attributes" array anywhere in obj."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = _mem(path, k)
            if k == "attributes" and isinstance(v, list):
                _attrs(v, p)
            else:
                _all_attrs(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _all_attrs(v, _idx(path, i))


def _no_body(obj, path):
    """No member named like a message body, no long string."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = _mem(path, k)
            check(k not in BODY_KEYS, "%s: member %r (a message body?)",
                  path, k)
            if k == "name" and isinstance(v, str):
                check(v not in BODY_KEYS, "%s: %r (a message body?)", p, v)
            _no_body(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _no_body(v, _idx(path, i))
    elif isinstance(obj, str):
        n = len(obj.encode("utf-8"))
        check(n <= MAX_STRING_BYTES, "%s: a string of %d bytes (over %d: a "
              "message body?)", path, n, MAX_STRING_BYTES)


def _str_attr(attrs, key, path, nonempty=False):
    kind, v = attrs[key]
    check(kind == "stringValue", "%s: %s is %s, want stringValue", path, key,
          kind)
    if nonempty:
        check(v != "", "%s: %s is empty", path, key)
    return v


def _unix_ns(span, key, path):
    p = _mem(path, key)
    v = span.get(key)
    check(isinstance(v, str) and v.isascii() and v.isdigit(),
          "%s: not a string of digits: %.80r", p, v)
    n = int(v)
    check(n >= MIN_UNIX_NS, "%s: %s is not Unix nanoseconds (%d digits)", p,
          v, len(v))
    return n


def _span(span, path, summary, window, expect):
    check(isinstance(span, dict), "%s: not an object", path)
    name = span.get("name")
    check(isinstance(name, str), "%s.name: missing or not a string", path)
    check(name in ACTIONS, "%s.name: %r is not a Beckn action", path, name)
    for k in ("traceId", "spanId"):
        v = span.get(k)
        check(isinstance(v, str) and v != "", "%s: not a non-empty "
              "string: %.80r", _mem(path, k), v)
    start = _unix_ns(span, "startTimeUnixNano", path)
    end = _unix_ns(span, "endTimeUnixNano", path)
    check(end >= start, "%s: endTimeUnixNano %d < startTimeUnixNano %d",
          path, end, start)
    status = span.get("status")
    check(status in SPAN_STATUSES, "%s.status: %.80r, want one of %s", path,
          status, "|".join(SPAN_STATUSES))
    ap = _mem(path, "attributes")
    check("attributes" in span, "%s: no attributes", path)
    attrs = _attrs(span["attributes"], ap)
    for k in REQUIRED_SPAN_ATTRS:
        check(k in attrs, "%s: no %s", ap, k)
    sender = _str_attr(attrs, "sender.id", ap)
    recipient = _str_attr(attrs, "recipient.id", ap)
    for k in ("http.method", "http.route", "http.host"):
        _str_attr(attrs, k, ap, nonempty=True)
    kind, code = attrs["http.status.code"]
    check(kind == "intValue", "%s: http.status.code is %s, want intValue",
          ap, kind)
    uuid_attr = _str_attr(attrs, "span_uuid", ap, nonempty=True)
    check("span_uuid" in span, "%s: no span_uuid member", path)
    eq(span["span_uuid"], uuid_attr, "%s.span_uuid (the span_uuid "
       "attribute's value)" % path)
    ep = _mem(path, "events")
    evs = span.get("events", [])
    check(isinstance(evs, list), "%s: not an array", ep)
    error = None
    for i, e in enumerate(evs):
        p = _idx(ep, i)
        check(isinstance(e, dict) and isinstance(e.get("name"), str),
              "%s: not an object with a name", p)
        if e["name"] == "error" and error is None:
            eattrs = _attrs(e.get("attributes"), _mem(p, "attributes"))
            for k in ("type", "code", "msg"):
                check(k in eattrs, "%s.attributes: no %s", p, k)
            error = {k: eattrs[k][1] for k in ("type", "code", "msg")}
    if status == "Error":
        check(error is not None, "%s: status Error and no \"error\" event",
              ep)
    if status == "Ok":
        check(200 <= code < 300, "%s: status Ok and http.status.code %d", ap,
              code)
    if window is not None:
        t0, t1 = window
        check(t0 <= start and end <= t1, "%s: start %d .. end %d not within "
              "%d .. %d", path, start, end, t0, t1)
    if expect is not None:
        for ck, sk in (("transaction_id", "traceId"),
                       ("message_id", "spanId"), ("action", "name")):
            if ck in expect:
                eq(span.get(sk), expect[ck], "%s.%s (context.%s)" %
                   (path, sk, ck))
    if summary.get("name") is None:
        summary.update(
            name=name, traceId=span["traceId"], spanId=span["spanId"],
            span_uuid=uuid_attr, status=status, start=start, end=end,
            http_status=code, sender_id=sender, recipient_id=recipient,
            error=error, attrs={k: v for k, (_, v) in attrs.items()})


def check_event(event, expect=None, window=None, path="event"):
    """The structural checks of one event; raises Fail naming the JSON
    path of the first problem (path is the event's own).

    expect: a Beckn context (or any dict with some of transaction_id,
    message_id, action, domain): traceId, spanId, name and the resource's
    domain must equal them.  window: (t0_ns, t1_ns), Unix nanoseconds:
    every span's start and end must lie within.

    Returns a flat summary: kind, eid, producer, domain and, for an API
    event, of its (first) span: name, traceId, spanId, span_uuid, status,
    start, end (ints, ns), http_status, sender_id, recipient_id, error
    ({type, code, msg} or None), attrs ({key: value}); spans (how many)."""
    check(isinstance(event, dict), "%s: not an object", path)
    kinds = [k for k in EVENT_KINDS if k in event]
    check(len(kinds) == 1, "%s: %s, want exactly one of %s", path,
          "has " + " and ".join(kinds) if kinds else "has none",
          "|".join(EVENT_KINDS))
    kind = kinds[0]
    eid_want, scope_key, item_key = EVENT_KINDS[kind]
    _all_attrs(event, path)
    summary = dict.fromkeys(
        ("eid", "producer", "domain", "name", "traceId", "spanId",
         "span_uuid", "status", "start", "end", "http_status", "sender_id",
         "recipient_id", "error", "attrs"))
    summary["kind"] = kind
    summary["spans"] = 0
    kp = _mem(path, kind)
    rs = event[kind]
    check(isinstance(rs, list) and rs, "%s: not a non-empty array", kp)
    for ri, r in enumerate(rs):
        rp = _idx(kp, ri)
        check(isinstance(r, dict), "%s: not an object", rp)
        res = r.get("resource")
        check(isinstance(res, dict), "%s.resource: missing or not an "
              "object", rp)
        ap = _mem(rp, "resource.attributes")
        check("attributes" in res, "%s: missing", ap)
        attrs = _attrs(res["attributes"], ap)
        for k in ("eid", "producer", "domain"):
            check(k in attrs, "%s: no %s", ap, k)
        eid = _str_attr(attrs, "eid", ap)
        check(eid in ("API", "METRIC", "AUDIT"), "%s: eid %r, want API, "
              "METRIC or AUDIT", ap, eid)
        eq(eid, eid_want, "%s: eid of a %s event" % (ap, kind))
        producer = _str_attr(attrs, "producer", ap, nonempty=True)
        domain = _str_attr(attrs, "domain", ap)
        if expect is not None and "domain" in expect:
            eq(domain, expect["domain"], "%s: domain (context.domain)" % ap)
        if ri == 0:
            summary.update(eid=eid, producer=producer, domain=domain)
        sp = _mem(rp, scope_key)
        scopes = r.get(scope_key)
        check(isinstance(scopes, list) and scopes, "%s: not a non-empty "
              "array", sp)
        for si, s in enumerate(scopes):
            p = _idx(sp, si)
            check(isinstance(s, dict), "%s: not an object", p)
            items = s.get(item_key)
            ip = _mem(p, item_key)
            check(isinstance(items, list) and items, "%s: not a non-empty "
                  "array", ip)
            if kind != "resourceSpans":
                continue
            scope = s.get("scope")
            check(isinstance(scope, dict), "%s.scope: missing or not an "
                  "object", p)
            sap = _mem(p, "scope.attributes")
            sattrs = _attrs(scope.get("attributes"), sap)
            check("count" in sattrs, "%s: no count", sap)
            ck, count = sattrs["count"]
            check(ck == "intValue", "%s: count is %s, want intValue", sap, ck)
            check(count == len(items), "%s: count %r, and %d span(s)", sap,
                  count, len(items))
            for i, span in enumerate(items):
                _span(span, _idx(ip, i), summary, window, expect)
                summary["spans"] += 1
    _no_body(event, path)
    return summary


def _loads(body, path):
    if isinstance(body, (bytes, bytearray)):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Fail("%s: not UTF-8" % path)
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError as e:
            raise Fail("%s: not JSON: %s" % (path, e))
    return body


def check_batch(body, expect=None, window=None):
    """The structural checks of one batch (bytes, text or parsed) and of
    each of its events (check_event() with expect and window); returns
    the events' summaries.  Paths start at the body: data.id,
    data.events[3].resourceSpans[0]..."""
    body = _loads(body, "batch")
    check(isinstance(body, dict), "batch: not an object")
    data = body.get("data")
    check(isinstance(data, dict), "data: missing or not an object")
    bid = data.get("id")
    check(isinstance(bid, str) and bid != "", "data.id: not a non-empty "
          "string: %.80r", bid)
    evs = data.get("events")
    check(isinstance(evs, list) and evs, "data.events: not a non-empty "
          "array")
    return [check_event(e, expect, window, path=_idx("data.events", i))
            for i, e in enumerate(evs)]


def check_batch_ids(batches):
    """Each data.id once among batches (the accepted ones: a retry of a
    batch the sink refused keeps its id).  Returns {id: batch index}."""
    seen = {}
    for i, b in enumerate(batches):
        b = _loads(b, "batches[%d]" % i)
        try:
            bid = b["data"]["id"]
        except (TypeError, KeyError):
            raise Fail("batches[%d]: no data.id" % i)
        check(bid not in seen, "batches[%d].data.id: %r also in "
              "batches[%d]", i, bid, seen.get(bid))
        seen[bid] = i
    return seen


def select(summaries, **fields):
    """The summaries whose fields equal the given ones, e.g.
    select(s, name="on_select", producer="bap.example")."""
    return [s for s in summaries
            if all(s.get(k) == v for k, v in fields.items())]


# --- Prometheus --------------------------------------------------------------

def scrape(url, token=None, timeout=HTTP_TIMEOUT):
    """GET url (e.g. http://127.0.0.1:PORT/metrics), with "Authorization:
    Bearer TOKEN" when token is given.  Returns (status, {lower-case
    header name: value}, text); any status, no exception for 4xx/5xx."""
    u = urllib.parse.urlsplit(url)
    conn = httpclient.HTTPConnection(u.hostname, u.port or 80,
                                     timeout=timeout)
    hdrs = {"Accept": "text/plain"}
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    try:
        conn.request("GET", (u.path or "/") + ("?" + u.query if u.query
                                                else ""), headers=hdrs)
        r = conn.getresponse()
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        return r.status, headers, body.decode("utf-8", "replace")
    finally:
        conn.close()


def _parser():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        dist = "/usr/lib/python3/dist-packages"
        if dist not in sys.path:
            sys.path.insert(0, dist)
        try:
            from prometheus_client.parser import \
                text_string_to_metric_families
        except ImportError:
            raise Skip("python3-prometheus-client is not installed (the "
                       "Prometheus text parser)")
    return text_string_to_metric_families


def parse_metrics(text):
    """Prometheus text exposition -> {(sample name, frozenset of (label,
    value) pairs): value}.  Sample names as exposed (foo_total,
    foo_bucket, foo_sum, foo_count).  Fail on text the parser rejects
    and on a series given twice."""
    parse = _parser()
    out = {}
    try:
        for fam in parse(text):
            for s in fam.samples:
                key = (s.name, frozenset(s.labels.items()))
                check(key not in out, "metrics: series %s%s given twice",
                      s.name, dict(s.labels))
                out[key] = s.value
    except (ValueError, TypeError, IndexError, KeyError) as e:
        raise Fail("metrics: the exposition does not parse: %s" % e)
    return out


def _labels(labels):
    return [(k, str(v)) for k, v in labels.items()]


def metric(samples, name, **labels):
    """The value of the series name{labels} (exactly those labels), 0
    when absent."""
    return samples.get((name, frozenset(_labels(labels))), 0)


def metric_sum(samples, name, **labels):
    """The sum over the series of name whose labels include the given
    ones (0 when none)."""
    want = set(_labels(labels))
    return sum(v for (n, ls), v in samples.items()
               if n == name and want <= ls)


def series(samples, name):
    """The label dicts of name's series."""
    return [dict(ls) for (n, ls) in samples if n == name]
