#!/usr/bin/env python3
"""bpp_app.py - a reference BPP app for becknd (Python 3 standard library).

A course provider's own application behind a becknd BPP adaptor, for the
ONEST / DSEP course flows.  It serves the webhook the adaptor delivers
verified requests to, ACKs each one at once, and answers asynchronously by
POSTing the callback (on_search, on_select, ...) to the adaptor's client
listener, which signs it and sends it to the BAP.

    python3 bpp_app.py --port 7507 --adaptor http://127.0.0.1:7506/bpp \\
        [--catalog catalog.json] [--provider prov-lakeside] [--host H]

  --adaptor   the BPP adaptor's client listener plus the path of the BPP's
              subscriber_url: callbacks go to <adaptor>/<on_action>
  --provider  serve only this provider of the catalog (default: all)

The adaptor's participant is configured with
`webhook: http://127.0.0.1:PORT/{action}`.  GET /health answers "ok".

What it answers (the course data comes from catalog.json):

  search                    courses whose name or description contains
                            intent.item.descriptor.name (or intent.
                            descriptor.name), in the category of
                            intent.category (code, name or id), of
                            intent.provider, with intent.fulfillment.type;
                            no match: no callback (BPPs stay silent)
  select                    the items with a quote (fee + 18% GST)
  init                      billing, payment terms (PRE-ORDER, NOT-PAID),
                            cancellation terms
  confirm                   a new order "ORD-XXXXXXXX" (kept in memory),
                            payment PAID, fulfilment state CONFIRMED
  status / track / update   the stored order / a tracking link / updated
                            billing or learner contact
  cancel                    CANCELLED, with one of the cancellation reasons
  rating / support          a feedback form / the provider's help desk
  get_cancellation_reasons  cancellation_reasons
  get_rating_categories     rating_categories

Callback contexts copy domain, version, bap_id, bap_uri, transaction_id,
message_id (and location, ttl) from the request; the adaptor fills bpp_id,
bpp_uri and timestamp.  Unknown items, orders or reasons are answered with
a callback carrying an "error" (code 30004 item not found, 40000 business
error) instead of a message.
"""

import argparse
import copy
import datetime
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
GST = 0.18

CANCELLATION_REASONS = [
    {"id": "reason-schedule", "descriptor": {"name": "Schedule conflict"}},
    {"id": "reason-content",
     "descriptor": {"name": "Course content not as expected"}},
    {"id": "reason-price", "descriptor": {"name": "Found a better price"}},
    {"id": "reason-other",
     "descriptor": {"name": "Other", "short_desc": "Tell us more"}},
]
RATING_CATEGORIES = ["Item", "Provider", "Fulfillment", "Support"]

# Request action -> callback action.
CALLBACKS = {
    "search": "on_search", "select": "on_select", "init": "on_init",
    "confirm": "on_confirm", "status": "on_status", "track": "on_track",
    "update": "on_update", "cancel": "on_cancel", "rating": "on_rating",
    "support": "on_support",
    "get_cancellation_reasons": "cancellation_reasons",
    "get_rating_categories": "rating_categories",
}


def now_rfc3339():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def money(v):
    return "%.2f" % v


def get(obj, *path):
    """obj[path0][path1]... or None; list indexes allowed."""
    for p in path:
        if isinstance(p, int):
            if not isinstance(obj, list) or p >= len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[p] if isinstance(p, int) else obj.get(p)
    return obj


class Catalog:
    """The course data of catalog.json, optionally one provider only."""

    def __init__(self, path, provider=None):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.providers = [p for p in data["providers"]
                          if provider is None or p["id"] == provider]
        if not self.providers:
            raise SystemExit("bpp_app: no provider %r in %s" % (provider,
                                                                  path))
        self.courses = {}	# id -> (provider, course)
        for p in self.providers:
            for c in p["courses"]:
                self.courses[c["id"]] = (p, c)

    # --- Beckn shapes ---------------------------------------------------

    @staticmethod
    def fulfillment_id(course):
        return "ful-" + course["fulfillment"].lower()

    def fulfillment(self, provider, course):
        f = {"id": self.fulfillment_id(course), "type": course["fulfillment"],
             "agent": {"person": {"name": course["instructor"],
                                  "languages": [course["language"]]},
                       "contact": {"email": provider["email"]}}}
        loc = course.get("location")
        if loc:
            f["stops"] = [{"type": "start", "location": self.location(loc)}]
        return f

    @staticmethod
    def location(loc):
        return {"address": loc["address"],
                "city": {"name": loc["city"], "code": loc["city_code"]},
                "state": {"name": loc["state"], "code": loc["state_code"]},
                "country": {"name": "India", "code": "IND"}}

    def item(self, provider, course, full=True):
        it = {"id": course["id"],
              "descriptor": {"name": course["name"]},
              "price": dict(course["price"])}
        if not full:
            return it
        it["descriptor"]["short_desc"] = course["short_desc"]
        it["descriptor"]["long_desc"] = course["long_desc"]
        it["creator"] = {"descriptor": {"name": provider["name"]}}
        it["category_ids"] = ["cat-" + c for c in course["categories"]]
        it["fulfillment_ids"] = [self.fulfillment_id(course)]
        it["rateable"] = True
        it["quantity"] = {"maximum": {"count": 1}}
        it["time"] = {"label": "Course duration",
                      "duration": course["duration"]}
        it["tags"] = [{
            "display": True,
            "descriptor": {"code": "content-metadata",
                           "name": "Content metadata"},
            "list": [
                {"descriptor": {"code": "language", "name": "Language"},
                 "value": course["language"]["name"], "display": True},
                {"descriptor": {"code": "prerequisites",
                                "name": "Prerequisites"},
                 "value": course["prerequisites"], "display": True},
                {"descriptor": {"code": "learning-outcomes",
                                "name": "Learning outcomes"},
                 "value": course["outcome"], "display": True},
            ]}]
        return it

    def provider_shape(self, provider, courses):
        used = sorted({c for course in courses for c in course["categories"]})
        names = {c["code"]: c["name"] for c in provider["categories"]}
        fuls = {}
        for course in courses:
            fuls.setdefault(self.fulfillment_id(course),
                            {"id": self.fulfillment_id(course),
                             "type": course["fulfillment"]})
        return {
            "id": provider["id"],
            "descriptor": {"name": provider["name"],
                           "short_desc": provider["short_desc"]},
            "categories": [{"id": "cat-" + c,
                            "descriptor": {"code": c, "name": names.get(c, c)}}
                           for c in used],
            "fulfillments": list(fuls.values()),
            "items": [self.item(provider, c) for c in courses],
        }

    # --- search -----------------------------------------------------------

    def search(self, intent):
        intent = intent if isinstance(intent, dict) else {}
        text = (get(intent, "item", "descriptor", "name") or
                get(intent, "descriptor", "name") or "").strip().lower()
        cat = get(intent, "category") or {}
        cat_keys = [v.lower() for v in (
            get(cat, "descriptor", "code"), get(cat, "descriptor", "name"),
            get(cat, "id")) if isinstance(v, str) and v]
        prov = get(intent, "provider") or {}
        prov_keys = [v.lower() for v in (
            get(prov, "id"), get(prov, "descriptor", "name"))
            if isinstance(v, str) and v]
        ftype = get(intent, "fulfillment", "type")
        found = []
        for p in self.providers:
            if prov_keys and not any(k in (p["id"].lower(), p["name"].lower())
                                     for k in prov_keys):
                continue
            names = {c["code"]: c["name"].lower() for c in p["categories"]}
            hits = []
            for c in p["courses"]:
                hay = (c["name"] + " " + c["short_desc"]).lower()
                if text and text not in hay:
                    continue
                if cat_keys and not any(
                        k in (code, "cat-" + code, names.get(code, ""))
                        for code in c["categories"] for k in cat_keys):
                    continue
                if isinstance(ftype, str) and ftype and \
                        ftype.upper() != c["fulfillment"]:
                    continue
                hits.append(c)
            if hits:
                found.append((p, hits))
        return found


class Orders:
    """Orders confirmed so far (in memory, for this process only)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_id = {}

    def new_id(self):
        return "ORD-" + uuid.uuid4().hex[:8].upper()

    def put(self, order):
        with self.lock:
            self.by_id[order["id"]] = order

    def get(self, oid):
        with self.lock:
            o = self.by_id.get(oid)
            return copy.deepcopy(o) if o is not None else None


class BppApp:
    """Builds the callback for a request (no I/O: see respond())."""

    def __init__(self, catalog, orders=None):
        self.catalog = catalog
        self.orders = orders or Orders()

    # --- helpers ----------------------------------------------------------

    @staticmethod
    def callback_context(req_ctx, action):
        ctx = {"action": action}
        for k in ("domain", "location", "version", "bap_id", "bap_uri",
                  "transaction_id", "message_id", "ttl"):
            if k in req_ctx:
                ctx[k] = req_ctx[k]
        return ctx

    def resolve_items(self, order):
        """[(provider, course)] of order.items, or an error message."""
        items = get(order, "items")
        if not isinstance(items, list) or not items:
            return None, "order.items is empty"
        out = []
        for it in items:
            cid = get(it, "id")
            if cid not in self.catalog.courses:
                return None, "no course %r here" % cid
            out.append(self.catalog.courses[cid])
        provs = {p["id"] for p, _ in out}
        if len(provs) > 1:
            return None, "the items belong to more than one provider"
        want = get(order, "provider", "id")
        if want is not None and want not in provs:
            return None, "the items are not offered by provider %r" % want
        return out, None

    @staticmethod
    def quote(pairs):
        total = sum(float(c["price"]["value"]) for _, c in pairs)
        currency = pairs[0][1]["price"]["currency"]
        fee = round(total / (1 + GST), 2)
        breakup = [{"item": {"id": c["id"]}, "title": "Course fee: " +
                    c["name"], "price": {"currency": currency,
                    "value": money(float(c["price"]["value"]) / (1 + GST))}}
                   for _, c in pairs]
        breakup.append({"title": "GST 18%", "price": {
            "currency": currency, "value": money(total - fee)}})
        return {"id": str(uuid.uuid4()),
                "price": {"currency": currency, "value": money(total)},
                "breakup": breakup, "ttl": "PT15M"}

    def order_base(self, pairs):
        provider = pairs[0][0]
        return {
            "provider": {"id": provider["id"],
                         "descriptor": {"name": provider["name"]}},
            "items": [self.catalog.item(p, c, full=False) for p, c in pairs],
        }

    @staticmethod
    def customer_fulfillments(pairs, req_order, cat):
        """The course fulfilments with the learner from the request."""
        req_f = get(req_order, "fulfillments", 0) or {}
        out = []
        seen = set()
        for p, c in pairs:
            fid = cat.fulfillment_id(c)
            if fid in seen:
                continue
            seen.add(fid)
            f = cat.fulfillment(p, c)
            if isinstance(req_f.get("customer"), dict):
                f["customer"] = req_f["customer"]
            out.append(f)
        return out

    @staticmethod
    def payment(pairs, quote, paid, req_payment=None):
        provider = pairs[0][0]
        pay = {"id": "pay-1", "type": "PRE-ORDER",
               "status": "PAID" if paid else "NOT-PAID",
               "collected_by": "BPP",
               "url": provider["url"] + "/pay/" + quote["id"],
               "params": {"amount": quote["price"]["value"],
                          "currency": quote["price"]["currency"]}}
        tid = get(req_payment, "params", "transaction_id")
        if paid and isinstance(tid, str):
            pay["params"]["transaction_id"] = tid
        return pay

    @staticmethod
    def cancellation_terms():
        return [{"reason_required": True, "cancel_by": {"duration": "P7D"},
                 "cancellation_fee": {"percentage": "0"}}]

    @staticmethod
    def set_state(order, code, name):
        for f in order.get("fulfillments", []):
            f["state"] = {"descriptor": {"code": code, "name": name},
                          "updated_at": now_rfc3339()}
        order["updated_at"] = now_rfc3339()

    # --- actions ----------------------------------------------------------

    def on_search(self, msg):
        found = self.catalog.search(get(msg, "intent"))
        if not found:
            return None
        return {"catalog": {
            "descriptor": {"name": ", ".join(p["name"] for p, _ in found)},
            "providers": [self.catalog.provider_shape(p, cs)
                          for p, cs in found]}}

    def on_select(self, msg):
        pairs, err = self.resolve_items(get(msg, "order"))
        if err:
            return {"error": {"code": "30004", "message": err}}
        order = self.order_base(pairs)
        order["items"] = [self.catalog.item(p, c) for p, c in pairs]
        order["fulfillments"] = [self.catalog.fulfillment(p, c)
                                 for p, c in pairs]
        order["quote"] = self.quote(pairs)
        return {"order": order}

    def on_init(self, msg):
        req = get(msg, "order") or {}
        pairs, err = self.resolve_items(req)
        if err:
            return {"error": {"code": "30004", "message": err}}
        order = self.order_base(pairs)
        if isinstance(req.get("billing"), dict):
            order["billing"] = req["billing"]
        order["fulfillments"] = self.customer_fulfillments(
            pairs, req, self.catalog)
        order["quote"] = self.quote(pairs)
        order["payments"] = [self.payment(pairs, order["quote"], False)]
        order["cancellation_terms"] = self.cancellation_terms()
        return {"order": order}

    def on_confirm(self, msg):
        req = get(msg, "order") or {}
        pairs, err = self.resolve_items(req)
        if err:
            return {"error": {"code": "30004", "message": err}}
        if not isinstance(req.get("billing"), dict):
            return {"error": {"code": "40000",
                              "message": "order.billing is required to "
                                         "confirm"}}
        order = self.order_base(pairs)
        order["id"] = self.orders.new_id()
        order["status"] = "ACTIVE"
        order["billing"] = req["billing"]
        order["fulfillments"] = self.customer_fulfillments(
            pairs, req, self.catalog)
        order["quote"] = self.quote(pairs)
        order["payments"] = [self.payment(pairs, order["quote"], True,
                                          get(req, "payments", 0))]
        order["cancellation_terms"] = self.cancellation_terms()
        order["created_at"] = now_rfc3339()
        self.set_state(order, "CONFIRMED", "Enrolment confirmed")
        for (p, c), f in zip(pairs, order["fulfillments"]):
            if c["fulfillment"] == "ONLINE":
                f.setdefault("stops", []).append({
                    "type": "start",
                    "instructions": {
                        "name": "Join the course",
                        "short_desc": "Sign in with your e-mail",
                        "media": [{"mimetype": "text/html",
                                   "url": p["url"] + "/learn/" + c["id"]}]}})
        self.orders.put(order)
        return {"order": order}

    def _order(self, msg, path=("order_id",)):
        oid = get(msg, *path)
        order = self.orders.get(oid) if isinstance(oid, str) else None
        if order is None:
            return None, {"error": {"code": "40000",
                                    "message": "no order %r here" % (oid,)}}
        return order, None

    def on_status(self, msg):
        order, err = self._order(msg)
        return err or {"order": order}

    def on_track(self, msg):
        order, err = self._order(msg)
        if err:
            return err
        provider = self.catalog.courses[order["items"][0]["id"]][0]
        return {"tracking": {"id": "trk-" + order["id"].lower(),
                             "url": provider["url"] + "/progress/" +
                             order["id"],
                             "status": "active" if order["status"] ==
                             "ACTIVE" else "inactive"}}

    def on_update(self, msg):
        order, err = self._order(msg, ("order", "id"))
        if err:
            return err
        req = get(msg, "order")
        target = get(msg, "update_target") or ""
        if "billing" in target and isinstance(req.get("billing"), dict):
            order["billing"].update(req["billing"])
        cust = get(req, "fulfillments", 0, "customer")
        if "fulfillments" in target and isinstance(cust, dict):
            for f in order["fulfillments"]:
                c = f.setdefault("customer", {})
                for k, v in cust.items():
                    if isinstance(v, dict) and isinstance(c.get(k), dict):
                        c[k].update(v)
                    else:
                        c[k] = v
        order["updated_at"] = now_rfc3339()
        self.orders.put(order)
        return {"order": order}

    def on_cancel(self, msg):
        order, err = self._order(msg)
        if err:
            return err
        rid = get(msg, "cancellation_reason_id")
        reason = next((r for r in CANCELLATION_REASONS if r["id"] == rid),
                      None)
        if reason is None:
            return {"error": {"code": "40000", "message":
                              "cancellation_reason_id %r is not one of %s"
                              % (rid, ", ".join(r["id"] for r in
                                                CANCELLATION_REASONS))}}
        if order["status"] == "CANCELLED":
            return {"error": {"code": "40000", "message":
                              "order %s is already cancelled" % order["id"]}}
        order["status"] = "CANCELLED"
        order["cancellation"] = {"time": now_rfc3339(),
                                 "cancelled_by": "CONSUMER",
                                 "reason": copy.deepcopy(reason)}
        self.set_state(order, "CANCELLED", "Cancelled by the learner")
        for pay in order.get("payments", []):
            pay["tags"] = [{"descriptor": {"code": "refund"}, "list": [
                {"descriptor": {"code": "amount"},
                 "value": pay["params"]["amount"]}]}]
        self.orders.put(order)
        return {"order": order}

    def on_rating(self, msg):
        ratings = get(msg, "ratings") or []
        first = get(ratings, 0, "id") or "course"
        provider = self.catalog.providers[0]
        return {"feedback_form": {
            "form": {"url": provider["url"] + "/feedback/" + str(first),
                     "mime_type": "text/html",
                     "data": {"ratings_received": str(len(ratings))}},
            "required": False}}

    def on_support(self, msg):
        provider = self.catalog.providers[0]
        ref = get(msg, "support", "ref_id") or get(msg, "support", "order_id")
        sup = {"phone": provider["phone"], "email": provider["email"],
               "url": provider["url"] + "/help"}
        if isinstance(ref, str):
            sup["ref_id"] = ref
        return {"support": sup}

    def cancellation_reasons(self, msg):
        return {"cancellation_reasons": copy.deepcopy(CANCELLATION_REASONS)}

    def rating_categories(self, msg):
        return {"rating_categories": list(RATING_CATEGORIES)}

    def respond(self, body):
        """The callback body for a request body, or None (no answer)."""
        ctx = get(body, "context") or {}
        action = ctx.get("action")
        cb = CALLBACKS.get(action)
        if cb is None:
            return None
        out = getattr(self, cb)(get(body, "message") or {})
        if out is None:
            return None
        reply = {"context": self.callback_context(ctx, cb)}
        if "error" in out:
            reply["error"] = out["error"]
        else:
            reply["message"] = out
        return reply


def summary(action, body, reply):
    """One readable line about a request and our answer."""
    msg = get(body, "message") or {}
    if action == "search":
        q = (get(msg, "intent", "item", "descriptor", "name") or
             get(msg, "intent", "descriptor", "name") or
             get(msg, "intent", "category", "descriptor", "code") or "*")
        n = sum(len(get(p, "items") or []) for p in
                get(reply, "message", "catalog", "providers") or [])
        return "search %r: %d course%s" % (q, n, "" if n == 1 else "s")
    if reply is not None and "error" in reply:
        return "%s: error %s" % (action, reply["error"]["message"])
    oid = get(reply, "message", "order", "id")
    if oid:
        return "%s: order %s %s" % (action, oid,
                                    get(reply, "message", "order", "status"))
    return action


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(app, adaptor, name, quiet):
    def log(line):
        if not quiet:
            print("%s: %s" % (name, line), flush=True)

    def send_callback(action, body, reply):
        url = adaptor.rstrip("/") + "/" + reply["context"]["action"]
        data = json.dumps(reply).encode("utf-8")
        what = summary(action, body, reply)
        for attempt in range(3):
            try:
                req = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type":
                                                      "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    ans = r.read().decode("utf-8", "replace")
                    status = r.status
            except urllib.error.HTTPError as e:
                ans = e.read().decode("utf-8", "replace")
                status = e.code
            except OSError as e:
                log("%s -> %s: %s (attempt %d)" % (what, url, e, attempt + 1))
                time.sleep(0.3 * (attempt + 1))
                continue
            try:
                ack = json.loads(ans)
            except ValueError:
                ack = {}
            if get(ack, "message", "ack", "status") == "ACK":
                log("%s -> %s ACK" % (what, reply["context"]["action"]))
            else:
                log("%s -> %s NACK (HTTP %d): %s" % (
                    what, reply["context"]["action"], status,
                    json.dumps(get(ack, "error") or ans)))
            return
        log("%s: giving up on %s" % (what, url))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def reply(self, code, obj):
            data = json.dumps(obj).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.split("?")[0] in ("/health", "/"):
                data = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self.reply(404, {"error": "not found"})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n)
            try:
                body = json.loads(raw)
                action = get(body, "context", "action")
            except ValueError:
                body, action = None, None
            url_action = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            if action is None or action not in CALLBACKS or \
                    (url_action in CALLBACKS and url_action != action):
                self.reply(400, {"message": {"ack": {"status": "NACK"}},
                                 "error": {"code": "30000", "message":
                                           "not a request this BPP app "
                                           "handles"}})
                return
            # ACK at once; the answer is a separate callback.
            self.reply(200, {"message": {"ack": {"status": "ACK"}}})

            def work():
                try:
                    reply = app.respond(body)
                except Exception as e:	# a bug here must not kill the app
                    log("%s: internal error: %r" % (action, e))
                    return
                if reply is None:
                    log(summary(action, body, None) + " (no callback)")
                    return
                send_callback(action, body, reply)
            threading.Thread(target=work, daemon=True).start()

    return Handler


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--adaptor", required=True,
                    help="the BPP adaptor's client URL incl. the BPP path")
    ap.add_argument("--catalog", default=os.path.join(HERE, "catalog.json"))
    ap.add_argument("--provider", help="serve only this provider id")
    ap.add_argument("--name", default=None, help="name in log lines")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    app = BppApp(Catalog(a.catalog, a.provider))
    name = a.name or "bpp_app[%s]" % (a.provider or "all")
    srv = Server((a.host, a.port), make_handler(app, a.adaptor, name, a.quiet))

    def stop(sig, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not a.quiet:
        print("%s: webhook http://%s:%d/{action}, callbacks to %s, %d "
              "courses" % (name, a.host, srv.server_address[1], a.adaptor,
                           len(app.catalog.courses)), flush=True)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
