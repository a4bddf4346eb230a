#!/usr/bin/env python3
"""bap_client.py - a reference BAP app for becknd (Python 3 standard library).

A learner-facing app behind a becknd BAP adaptor.  It sends partial,
unsigned Beckn bodies to the adaptor's client listener (becknd completes
the context, signs and routes them) and receives callbacks on a webhook.

    bap_client.py flow --adaptor http://127.0.0.1:7503/bap [--query python]
        [--category CODE] [--all] [--check-webhook URL | --webhook-port P]
    bap_client.py serve --port 7504          # the webhook only
    bap_client.py call --adaptor URL ACTION [JSON]   # one sync call

flow   searches, selects the first course found, inits, confirms and asks
       for the status, printing each step; --all goes on through track,
       update, support, rating, get_rating_categories,
       get_cancellation_reasons, cancel and a last status.  Every call
       uses the adaptor's sync mode (?sync=true&wait=...): the answer
       holds the callbacks (all on_search within the wait; the first
       callback otherwise), which the adaptor also delivers to the
       webhook.  --check-webhook URL asks the running webhook (serve) for
       the callbacks of each step as well; --webhook-port runs a webhook
       inside this process for the duration.  Exits 1 when a step fails.
serve  the webhook: POST /<action> records the callback and ACKs;
       GET /callbacks[?message_id=&action=&transaction_id=] lists what
       arrived (JSON), GET /health answers "ok".
call   one sync call, printing the adaptor's answer as JSON.
"""

import argparse
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEARNER = {
    "name": "Asha Verma",
    "email": "asha.verma@learner.sandbox.test",
    "phone": "+91-9000012345",
}


class FlowError(Exception):
    pass


def get(obj, *path):
    for p in path:
        if isinstance(p, int):
            if not isinstance(obj, list) or p >= len(obj):
                return None
            obj = obj[p]
        elif isinstance(obj, dict):
            obj = obj.get(p)
        else:
            return None
    return obj


# --- the webhook -------------------------------------------------------------

class Webhook(ThreadingHTTPServer):
    """Records every callback the BAP adaptor delivers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, quiet=False):
        self.lock = threading.Condition()
        self.callbacks = []
        self.quiet = quiet
        super().__init__((host, port), WebhookHandler)

    def record(self, action, body, sender):
        with self.lock:
            self.callbacks.append({
                "action": action,
                "sender": sender,
                "bpp_id": get(body, "context", "bpp_id"),
                "message_id": get(body, "context", "message_id"),
                "transaction_id": get(body, "context", "transaction_id"),
                "received": time.time(),
                "body": body,
            })
            self.lock.notify_all()
        if not self.quiet:
            print("webhook: %s from %s (message_id %s)" % (
                action, get(body, "context", "bpp_id"),
                get(body, "context", "message_id")), flush=True)

    def select(self, message_id=None, action=None, transaction_id=None):
        with self.lock:
            return [c for c in self.callbacks
                    if (message_id is None or c["message_id"] == message_id)
                    and (action is None or c["action"] == action)
                    and (transaction_id is None or
                         c["transaction_id"] == transaction_id)]


class WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, data, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path in ("/health", "/"):
            self.send(200, b"ok\n", "text/plain")
            return
        if u.path.rstrip("/") == "/callbacks":
            q = dict(urllib.parse.parse_qsl(u.query))
            out = self.server.select(q.get("message_id"), q.get("action"),
                                     q.get("transaction_id"))
            self.send(200, json.dumps(out, indent=1).encode("utf-8"))
            return
        self.send(404, b'{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            self.send(400, json.dumps({"message": {"ack": {"status": "NACK"}},
                                       "error": {"code": "30000", "message":
                                                 "invalid JSON"}}).encode())
            return
        action = get(body, "context", "action") or \
            self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        self.server.record(action, body, self.headers.get("X-Beckn-Sender"))
        self.send(200, b'{"message":{"ack":{"status":"ACK"}}}')


# --- talking to the adaptor ------------------------------------------------

def post(url, body, timeout):
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        raise FlowError("%s: %s" % (url, e))


def sync_call(adaptor, action, body, wait):
    """POST <adaptor>/<action>?sync=true&wait=...: (context, callbacks)."""
    url = "%s/%s?sync=true&wait=%s" % (adaptor.rstrip("/"), action, wait)
    secs = float(wait.strip("PTS")) if wait.startswith("PT") and \
        wait.endswith("S") else 30
    status, text = post(url, body, timeout=secs + 10)
    try:
        ans = json.loads(text)
    except ValueError:
        raise FlowError("%s: HTTP %d, not JSON: %.200s" % (action, status,
                                                           text))
    if status != 200 or get(ans, "message", "ack", "status") == "NACK":
        err = get(ans, "error") or {}
        raise FlowError("%s: NACK (HTTP %d) %s: %s" % (
            action, status, err.get("code", ""), err.get("message", text)))
    if "responses" not in ans:
        raise FlowError("%s: the adaptor's answer has no responses: %.200s"
                        % (action, text))
    return ans.get("context") or {}, ans["responses"]


def fetch_webhook(url, message_id, expect, timeout=3.0):
    """Callbacks the webhook app got for message_id (waits for expect)."""
    deadline = time.monotonic() + timeout
    q = urllib.parse.urlencode({"message_id": message_id})
    while True:
        try:
            with urllib.request.urlopen("%s/callbacks?%s" % (
                    url.rstrip("/"), q), timeout=5) as r:
                got = json.loads(r.read())
        except (OSError, ValueError) as e:
            raise FlowError("webhook %s: %s" % (url, e))
        if len(got) >= expect or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


# --- the flow ----------------------------------------------------------------

def course_lines(responses):
    """[(course name, provider, item, provider id, bpp_id, bpp_uri)]."""
    out = []
    for r in responses:
        ctx = r.get("context") or {}
        for p in get(r, "message", "catalog", "providers") or []:
            for it in p.get("items") or []:
                out.append((get(it, "descriptor", "name") or it.get("id"),
                            get(p, "descriptor", "name") or p.get("id"),
                            it, p.get("id"), ctx.get("bpp_id"),
                            ctx.get("bpp_uri")))
    out.sort(key=lambda c: ((c[0] or "").lower(), c[4] or ""))
    return out


def tag_value(item, code):
    for g in item.get("tags") or []:
        for t in g.get("list") or []:
            if get(t, "descriptor", "code") == code:
                return t.get("value")
    return None


def price(p):
    return "%s %s" % (get(p, "currency") or "", get(p, "value") or "?")


class Flow:
    def __init__(self, adaptor, wait, search_wait, webhook_url, out):
        self.adaptor = adaptor
        self.wait = wait
        self.search_wait = search_wait
        self.webhook_url = webhook_url
        self.out = out
        self.txn = None
        self.peer = None	# {"bpp_id", "bpp_uri"}
        self.steps = 0

    def say(self, s=""):
        print(s, file=self.out, flush=True)

    def step(self, action, message, expect_cb, wait=None):
        body = {"context": {}, "message": message}
        if message is None:
            del body["message"]
        if self.txn:
            body["context"]["transaction_id"] = self.txn
        if self.peer:
            body["context"].update(self.peer)
        if not body["context"]:
            del body["context"]
        ctx, responses = sync_call(self.adaptor, action, body,
                                   wait or self.wait)
        self.txn = self.txn or ctx.get("transaction_id")
        mid = ctx.get("message_id")
        if not responses:
            raise FlowError("%s: no %s within %s (message_id %s)" % (
                action, expect_cb, wait or self.wait, mid))
        for r in responses:
            if get(r, "context", "action") != expect_cb:
                raise FlowError("%s: got %s, expected %s" % (
                    action, get(r, "context", "action"), expect_cb))
            if "error" in r:
                raise FlowError("%s: %s answered error %s: %s" % (
                    expect_cb, get(r, "context", "bpp_id"),
                    get(r, "error", "code"), get(r, "error", "message")))
        if self.webhook_url:
            got = fetch_webhook(self.webhook_url, mid, len(responses))
            if len(got) < len(responses):
                raise FlowError("%s: the webhook got %d of %d %s callbacks "
                                "(message_id %s)" % (action, len(got),
                                                     len(responses),
                                                     expect_cb, mid))
        self.steps += 1
        return ctx, responses

    def run(self, query, category, everything):
        say = self.say
        intent = {}
        if query:
            intent["item"] = {"descriptor": {"name": query}}
        if category:
            intent["category"] = {"descriptor": {"code": category}}
        what = " ".join(filter(None, ['"%s"' % query if query else None,
                                      "category " + category if category
                                      else None])) or "all courses"
        say("[search] %s (via the BAP adaptor %s and the gateway)" % (
            what, self.adaptor))
        ctx, res = self.step("search", {"intent": intent}, "on_search",
                             self.search_wait)
        courses = course_lines(res)
        bpps = sorted({get(r, "context", "bpp_id") for r in res})
        say("  transaction %s: %d on_search from %d BPP%s (%s)" % (
            ctx.get("transaction_id"), len(res), len(bpps),
            "" if len(bpps) == 1 else "s", ", ".join(map(str, bpps))))
        if not courses:
            raise FlowError("search: no course found")
        for name, prov, it, _, bpp, _ in courses:
            f = ", ".join(filter(None, [
                tag_value(it, "language"), get(it, "time", "duration")]))
            say("  - %s | %s | %s | %s | %s" % (name, prov,
                                                price(it.get("price")), f,
                                                bpp))

        name, prov, it, prov_id, bpp, bpp_uri = courses[0]
        self.peer = {"bpp_id": bpp, "bpp_uri": bpp_uri}
        order = {"provider": {"id": prov_id}, "items": [{"id": it["id"]}]}
        say("[select] %s from %s" % (name, bpp))
        _, res = self.step("select", {"order": order}, "on_select")
        q = get(res[0], "message", "order", "quote") or {}
        say("  quote %s: %s" % (price(q.get("price")), "; ".join(
            "%s %s" % (b.get("title"), price(b.get("price")))
            for b in q.get("breakup") or [])))

        customer = {"person": {"name": LEARNER["name"]},
                    "contact": {"email": LEARNER["email"],
                                "phone": LEARNER["phone"]}}
        order = dict(order, billing=dict(LEARNER),
                     fulfillments=[{"customer": customer}])
        say("[init] billing %s <%s>" % (LEARNER["name"], LEARNER["email"]))
        _, res = self.step("init", {"order": order}, "on_init")
        pay = get(res[0], "message", "order", "payments", 0) or {}
        say("  payment %s %s, %s %s, %s" % (
            pay.get("type"), pay.get("status"), get(pay, "params", "currency"),
            get(pay, "params", "amount"), pay.get("url")))

        say("[confirm] paid, confirming the enrolment")
        order["payments"] = [{"id": pay.get("id", "pay-1"),
                              "type": pay.get("type", "PRE-ORDER"),
                              "status": "PAID",
                              "params": {"transaction_id": "sandbox-upi-" +
                                         (self.txn or "x")[:8],
                                         "amount": get(pay, "params",
                                                       "amount") or "0",
                                         "currency": get(pay, "params",
                                                         "currency") or
                                         "INR"}}]
        _, res = self.step("confirm", {"order": order}, "on_confirm")
        o = get(res[0], "message", "order") or {}
        oid = o.get("id")
        if not oid:
            raise FlowError("on_confirm has no order id")
        say("  order %s confirmed by %s: %s, fulfillment %s" % (
            oid, bpp, o.get("status"),
            get(o, "fulfillments", 0, "state", "descriptor", "code")))

        def status(label="status"):
            say("[%s] order %s" % (label, oid))
            _, res = self.step("status", {"order_id": oid}, "on_status")
            o = get(res[0], "message", "order") or {}
            say("  order %s: %s, fulfillment %s" % (
                o.get("id"), o.get("status"),
                get(o, "fulfillments", 0, "state", "descriptor", "code")))
            return o
        status()
        if not everything:
            return

        say("[track] order %s" % oid)
        _, res = self.step("track", {"order_id": oid}, "on_track")
        say("  tracking %s (%s)" % (get(res[0], "message", "tracking", "url"),
                                    get(res[0], "message", "tracking",
                                        "status")))

        say("[update] new phone number for the learner")
        _, res = self.step("update", {
            "update_target": "order.fulfillments[0].customer.contact",
            "order": {"id": oid, "fulfillments": [{"customer": {
                "contact": {"phone": "+91-9000054321"}}}]}}, "on_update")
        say("  learner phone now %s" % get(
            res[0], "message", "order", "fulfillments", 0, "customer",
            "contact", "phone"))

        say("[support] order %s" % oid)
        _, res = self.step("support", {"support": {"ref_id": oid}},
                           "on_support")
        s = get(res[0], "message", "support") or {}
        say("  help desk %s, %s" % (s.get("email"), s.get("phone")))

        say("[rating] 5 for the course")
        _, res = self.step("rating", {"ratings": [{
            "rating_category": "Item", "id": it["id"], "value": "5"}]},
            "on_rating")
        say("  feedback form %s" % get(res[0], "message", "feedback_form",
                                       "form", "url"))

        say("[get_rating_categories]")
        _, res = self.step("get_rating_categories", None,
                           "rating_categories")
        say("  %s" % ", ".join(get(res[0], "message", "rating_categories")
                               or []))

        say("[get_cancellation_reasons]")
        _, res = self.step("get_cancellation_reasons", None,
                           "cancellation_reasons")
        reasons = get(res[0], "message", "cancellation_reasons") or []
        say("  %s" % "; ".join("%s (%s)" % (get(r, "descriptor", "name"),
                                           r.get("id")) for r in reasons))
        if not reasons:
            raise FlowError("no cancellation reasons")

        say("[cancel] order %s: %s" % (oid, get(reasons[0], "descriptor",
                                                "name")))
        _, res = self.step("cancel", {
            "order_id": oid, "cancellation_reason_id": reasons[0]["id"]},
            "on_cancel")
        o = get(res[0], "message", "order") or {}
        say("  order %s: %s (%s)" % (o.get("id"), o.get("status"), get(
            o, "cancellation", "reason", "descriptor", "name")))
        o = status("status")
        if o.get("status") != "CANCELLED":
            raise FlowError("status after cancel is %s" % o.get("status"))


def cmd_flow(a):
    hook = None
    webhook_url = a.check_webhook
    if a.webhook_port is not None:
        hook = Webhook(a.host, a.webhook_port, quiet=True)
        threading.Thread(target=hook.serve_forever, daemon=True).start()
        webhook_url = "http://%s:%d" % (a.host, hook.server_address[1])
    flow = Flow(a.adaptor, a.wait, a.search_wait, webhook_url, sys.stdout)
    try:
        flow.run(a.query, a.category, a.all)
    except FlowError as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    finally:
        if hook is not None:
            hook.shutdown()
            hook.server_close()
    print("flow: %d steps ok%s" % (
        flow.steps, ", every callback also reached the webhook"
        if webhook_url else ""), flush=True)
    return 0


def cmd_serve(a):
    hook = Webhook(a.host, a.port, quiet=a.quiet)

    def stop(sig, frame):
        threading.Thread(target=hook.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not a.quiet:
        print("bap_client: webhook http://%s:%d/{action}, GET /callbacks" %
              (a.host, hook.server_address[1]), flush=True)
    hook.serve_forever(poll_interval=0.2)
    hook.server_close()
    return 0


def cmd_call(a):
    body = json.loads(a.body) if a.body else {"message": {}}
    try:
        ctx, res = sync_call(a.adaptor, a.action, body, a.wait)
    except FlowError as e:
        print("FAILED: %s" % e)
        return 1
    print(json.dumps({"context": ctx, "responses": res}, indent=2))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flow", help="search, select, init, confirm, status")
    f.add_argument("--adaptor", required=True,
                   help="the BAP adaptor's client URL incl. the BAP path")
    f.add_argument("--query", default="python")
    f.add_argument("--category")
    f.add_argument("--all", action="store_true",
                   help="every action, up to cancel")
    f.add_argument("--wait", default="PT5S")
    f.add_argument("--search-wait", default="PT3S",
                   help="how long to collect on_search answers")
    f.add_argument("--check-webhook", metavar="URL",
                   help="a running `serve` webhook to check")
    f.add_argument("--webhook-port", type=int,
                   help="run a webhook here during the flow")
    f.add_argument("--host", default="127.0.0.1")
    s = sub.add_parser("serve", help="the webhook")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--quiet", action="store_true")
    c = sub.add_parser("call", help="one sync call")
    c.add_argument("--adaptor", required=True)
    c.add_argument("--wait", default="PT5S")
    c.add_argument("action")
    c.add_argument("body", nargs="?")
    a = ap.parse_args(argv)
    return {"flow": cmd_flow, "serve": cmd_serve, "call": cmd_call}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
