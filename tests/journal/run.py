#!/usr/bin/env python3
"""`becknd journal` against store files built here with Python's sqlite3
module (schema version 2 of src/store/store_db.c): list, show, export,
redeliver and verification-logs, their output and their errors.

    BECKND_BIN=/path/to/becknd python3 tests/journal/run.py [-v] [-k NAME]

BECKND_WRAPPER (e.g. "valgrind -q --error-exitcode=99 --leak-check=full
--errors-for-leak-kinds=definite") runs every becknd under it.  The last
line is "journal: N passed, M failed"; exit 0 only when nothing failed.
"""

import sys
sys.dont_write_bytecode = True

import csv
import io
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import time
import traceback

BIN = os.environ.get("BECKND_BIN") or os.path.join(
    os.environ.get("BECKND_BUILDDIR", os.getcwd()), "becknd")
WRAPPER = shlex.split(os.environ.get("BECKND_WRAPPER", "").strip())
WRAPPER_RC = next((int(m.group(1)) for m in
                   (re.match(r"--error-exitcode=(\d+)$", a) for a in WRAPPER)
                   if m), None)
TIMEOUT = 60 if not WRAPPER else 300
# Sanitizer and valgrind reports (as tests/blackbox/bxlib.py knows them).
SANITIZER_RX = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
    r"ERROR: UndefinedBehaviorSanitizer|"
    r"^==\d+== (Invalid |Conditional jump|Use of uninitialised|"
    r"Syscall param|Mismatched free|Source and destination overlap|"
    r"\d[\d,]* bytes in \d[\d,]* blocks are definitely lost|"
    r"Process terminating|ERROR SUMMARY: [1-9])", re.M)
VERBOSE = "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None

# Schema version 2, as src/store/store_db.c creates it.  A reader refuses
# any other version, so a schema change makes this suite fail loudly.
SCHEMA = """
CREATE TABLE messages(
  id INTEGER PRIMARY KEY, direction TEXT NOT NULL, participant TEXT NOT NULL,
  role TEXT, peer TEXT, action TEXT NOT NULL, domain TEXT,
  transaction_id TEXT, message_id TEXT, order_id TEXT, state_code TEXT,
  http_status INTEGER, ack TEXT, error_code TEXT, error_message TEXT,
  start_ms INTEGER NOT NULL, end_ms INTEGER, delivery_id TEXT UNIQUE,
  webhook TEXT, sender TEXT, delivery_state TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, delivered_ms INTEGER,
  body BLOB);
CREATE INDEX messages_txn ON messages(transaction_id);
CREATE INDEX messages_msg ON messages(message_id);
CREATE INDEX messages_order ON messages(order_id);
CREATE INDEX messages_start ON messages(start_ms);
CREATE INDEX messages_outbox ON messages(delivery_state)
  WHERE delivery_state IN ('queued','requeue');
CREATE TABLE replay(id INTEGER PRIMARY KEY, key BLOB NOT NULL, owner TEXT,
  expires_ms INTEGER NOT NULL);
CREATE INDEX replay_expires ON replay(expires_ms);
CREATE TABLE tel_event(seq INTEGER PRIMARY KEY, event TEXT NOT NULL);
CREATE TABLE tel_batch(first INTEGER PRIMARY KEY, last INTEGER NOT NULL);
PRAGMA application_id = 1111706436;
PRAGMA user_version = 2;
"""

T0 = 1796000523456			# 2026-11-30T01:02:03.456Z
DOMAIN = "onest:learning-experiences"
BAP, BPP1, BPP2, GW = "bap.example", "bpp1.example", "bpp2.example", \
    "gw.example"
TXN = "5c9d6f0e-8a57-4c3b-9d1e-2f7a61b0c4d2"
COLUMNS = ["id", "direction", "participant", "role", "peer", "action",
           "domain", "transaction_id", "message_id", "order_id",
           "state_code", "http_status", "ack", "error_code",
           "error_message", "start", "end", "latency_ms", "delivery_id",
           "delivery_state", "attempts", "last_error"]

RESULTS = {"pass": 0, "fail": 0}
TMP = tempfile.mkdtemp(prefix="becknd-journal-")


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "blackbox"))
from bxlib import Fail, check, eq, log  # noqa: E402


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03dZ" % (ms % 1000)


def run(*args, rc=None):
    """becknd ARGS -> (rc, stdout bytes, stderr str)."""
    p = subprocess.run(WRAPPER + [BIN] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    err = p.stderr.decode("utf-8", "replace")
    if (WRAPPER_RC is not None and p.returncode == WRAPPER_RC) or \
            SANITIZER_RX.search(err):
        raise Fail("errors reported running becknd %s:\n%s" %
                   (" ".join(args), err))
    if rc is not None and p.returncode != rc:
        raise Fail("becknd %s: exit %d, want %d\nstdout: %s\nstderr: %s" %
                   (" ".join(args), p.returncode, rc,
                    p.stdout.decode("utf-8", "replace")[:2000], err))
    return p.returncode, p.stdout, err


# --- the store ------------------------------------------------------------

def body(action, mid, txn=TXN, bpp=None, version="1.1.0", message=None):
    """A compact Beckn body (no spaces: --pretty must differ), with a
    non-ASCII character and a '/' that must survive byte for byte."""
    ctx = {"domain": DOMAIN, "action": action, "version": version,
           "bap_id": BAP, "bap_uri": "https://bap.example/beckn",
           "transaction_id": txn, "message_id": mid,
           "timestamp": "2026-11-30T01:02:03.456Z", "ttl": "PT30S"}
    if bpp:
        ctx["bpp_id"] = bpp
        ctx["bpp_uri"] = "https://%s/beckn" % bpp
    msg = message if message is not None else \
        {"intent": {"descriptor": {"name": "Café/ML", "n": 1.50}}}
    text = json.dumps({"context": ctx, "message": msg},
                      separators=(",", ":"), ensure_ascii=False)
    # A number as JSON may spell it but Python would not: kept verbatim.
    return text.replace('"n":1.5}', '"n":1.50}').encode("utf-8")


class Store:
    def __init__(self, name):
        self.path = os.path.join(TMP, name + ".db")
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.t = T0
        self.rows = []

    def add(self, direction, participant, role, peer, action, txn=TXN,
            mid=None, ack="ACK", body_=b"", delivery=None, **kw):
        self.t += 1000
        r = dict(direction=direction, participant=participant, role=role,
                 peer=peer, action=action, domain=kw.pop("domain", DOMAIN),
                 transaction_id=txn, message_id=mid, ack=ack,
                 http_status=200 if ack == "ACK" else
                 (401 if ack == "NACK" else None),
                 start_ms=self.t, end_ms=self.t + 7, body=body_)
        if ack == "NACK":
            r.update(error_code="10001", error_message="bad signature")
        if delivery:
            r.update(delivery_id=delivery[0], delivery_state=delivery[1],
                     webhook="http://127.0.0.1:1/hook", sender=peer,
                     attempts=delivery[2] if len(delivery) > 2 else 1)
        r.update(kw)
        cols = list(r)
        cur = self.db.execute(
            "INSERT INTO messages(%s) VALUES (%s)" %
            (", ".join(cols), ", ".join("?" * len(cols))),
            [r[c] for c in cols])
        r["id"] = cur.lastrowid
        self.rows.append(r)
        self.db.commit()
        return r

    def close(self):
        self.db.close()


def demo_store():
    """One transaction TXN, as a becknd hosting the BAP and BPP1 journals
    it: search broadcast (on_search from BPP1 and BPP2), then select,
    init, confirm and status with BPP1; a NACKed stray on_status; and
    another transaction of our BAP alone."""
    s = Store("demo")
    flow = [("search", "m1"), ("select", "m2"), ("init", "m3"),
            ("confirm", "m4"), ("status", "m5")]
    k = 0
    for action, mid in flow:
        peer = GW if action == "search" else BPP1
        req = body(action, mid, bpp=None if action == "search" else BPP1)
        s.add("out", BAP, "BAP", peer, action, mid=mid, body_=req)
        s.add("in", BPP1, "BPP", BAP, action, mid=mid, body_=req,
              delivery=("d%d" % k, "delivered"))
        k += 1
        cb = body("on_" + action, mid, bpp=BPP1)
        s.add("out", BPP1, "BPP", BAP, "on_" + action, mid=mid, body_=cb,
              order_id="o1" if action in ("confirm", "status") else None)
        s.add("in", BAP, "BAP", BPP1, "on_" + action, mid=mid, body_=cb,
              delivery=("d%d" % k, "delivered"),
              order_id="o1" if action in ("confirm", "status") else None,
              state_code="ENROLLED" if action == "status" else None)
        k += 1
        if action == "search":
            cb2 = body("on_search", mid, bpp=BPP2)
            s.add("in", BAP, "BAP", BPP2, "on_search", mid=mid, body_=cb2,
                  delivery=("d%d" % k, "dead", 5),
                  last_error="HTTP 500")
            k += 1
    s.add("in", BAP, "BAP", BPP2, "on_status", mid="m5", ack="NACK",
          body_=body("on_status", "m5", bpp=BPP2))
    s.add("out", BAP, "BAP", GW, "search", txn="other-txn", mid="m9",
          body_=body("search", "m9", txn="other-txn"))
    s.close()
    return s


# --- tests ----------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def jrun(store, *args, rc=0):
    return run("journal", args[0], "--store", store.path, *args[1:], rc=rc)


@test
def list_table_and_json(W):
    s = W["demo"]
    rc, out, err = jrun(s, "list")
    lines = out.decode().splitlines()
    eq(lines[0].split(), ["time", "dir", "participant", "peer", "action",
                          "transaction_id", "message_id", "status"],
       "header")
    eq(len(lines), 1 + len(s.rows), "rows")
    first = lines[1].split()
    eq(first[:8], [rfc3339(s.rows[0]["start_ms"]), "out", BAP, GW,
                   "search", TXN, "m1", "ACK"], "first row")
    check("ACK, dead (5 attempts)" in out.decode(), "dead delivery shown")
    check("NACK 10001" in out.decode(), "NACK shown")
    rc, out, err = jrun(s, "list", "--json")
    o = json.loads(out)
    eq([r["id"] for r in o["messages"]], [r["id"] for r in s.rows], "ids")
    eq(o["next"], None, "next")
    r0 = o["messages"][0]
    eq(list(r0), ["id", "direction", "participant", "role", "peer",
                  "action", "domain", "transaction_id", "message_id",
                  "order_id", "state_code", "http_status", "ack",
                  "error_code", "error_message", "start", "end",
                  "latency_ms", "delivery"], "row keys")
    eq(r0["latency_ms"], 7, "latency")
    eq(o["messages"][1]["delivery"],
       {"id": "d0", "state": "delivered", "attempts": 1, "last_error": None,
        "at": None}, "delivery")
    # Pages.
    rc, out, err = jrun(s, "list", "--limit", "3")
    check(out.decode().splitlines()[-1] == "more: --after 3", "more line")
    rc, out, err = jrun(s, "list", "--limit", "3", "--after", "3",
                        "--json")
    o = json.loads(out)
    eq([r["id"] for r in o["messages"]], [4, 5, 6], "page 2")
    eq(o["next"], 6, "next")
    # Filters.
    rc, out, err = jrun(s, "list", "--action", "on_search", "--json")
    eq([r["peer"] for r in json.loads(out)["messages"]],
       [BAP, BPP1, BPP2], "on_search rows")
    rc, out, err = jrun(s, "list", "--participant", BAP, "--status",
                        "dead", "--direction", "in", "--json")
    eq([r["peer"] for r in json.loads(out)["messages"]], [BPP2], "dead")
    rc, out, err = jrun(s, "list", "--since", rfc3339(T0 + 20500),
                        "--until", str(T0 + 22500), "--json")
    eq([r["id"] for r in json.loads(out)["messages"]], [21, 22], "times")
    now = int(time.time() * 1000)
    r = Store("recent")
    r.add("in", BAP, "BAP", BPP1, "on_search", start_ms=now - 7200000)
    r.add("in", BAP, "BAP", BPP1, "on_select", start_ms=now - 600000)
    r.close()
    rc, out, err = jrun(r, "list", "--since", "1h", "--json")
    eq([m["action"] for m in json.loads(out)["messages"]], ["on_select"],
       "since 1h ago")
    rc, out, err = jrun(r, "list", "--until", "PT30M", "--json")
    eq([m["action"] for m in json.loads(out)["messages"]], ["on_search"],
       "until 30 minutes ago")
    rc, out, err = jrun(s, "list", "--order", "nothing")
    eq(out.decode(), "no matching messages\n", "empty")


@test
def show_timeline(W):
    s = W["demo"]
    rc, out, err = jrun(s, "show", TXN)
    text = out.decode()
    mine = [r for r in s.rows if r["transaction_id"] == TXN]
    check(text.startswith("transaction %s: %d messages\n" %
                          (TXN, len(mine))), "header: %r", text[:100])
    heads = re.findall(r"^#(\d+) (\S+) (in|out) (\S+)$", text, re.M)
    eq([(int(i), a) for i, _, _, a in heads],
       [(r["id"], r["action"]) for r in mine], "timeline")
    check("  %s -> %s\n" % (BAP, GW) in text, "out arrow")
    check("  %s <- %s\n" % (BAP, BPP1) in text, "in arrow")
    check("  answer: ACK, HTTP 200, 7 ms\n" in text, "answer")
    check("  delivery d1: delivered, 1 attempt\n" in text, "delivery")
    check("  answer: NACK 10001, HTTP 401, 7 ms\n  error: bad signature\n"
          in text, "NACK")
    check('"name": "Café/ML"' in text, "pretty body: %s" % text[:600])
    rc, out, err = jrun(s, "show", TXN, "--raw")
    check(mine[0]["body"] + b"\n" in out, "raw body")
    rc, out, err = jrun(s, "show", TXN, "--json")
    o = json.loads(out)
    eq(o["transaction_id"], TXN, "id")
    eq([m["body"].encode() for m in o["messages"]],
       [r["body"] for r in mine], "bodies byte for byte")
    # A message id: the request and its callbacks, both participants.
    rc, out, err = jrun(s, "show", "m1", "--json")
    o = json.loads(out)
    eq(o["message_id"], "m1", "message id")
    eq(len(o["messages"]), 5, "m1 rows")
    rc, out, err = jrun(s, "show", "m1")
    check(out.decode().startswith("message m1: 5 messages\n"), "m1 header")
    rc, out, err = jrun(s, "show", "nope", rc=1)
    check("no transaction or message with id nope" in err and s.path in err,
          err)


@test
def export_csv_and_jsonl(W):
    s = W["demo"]
    rc, out, err = jrun(s, "export", "--format", "csv")
    check(b"\r\n" in out, "CRLF")
    rows = list(csv.reader(io.StringIO(out.decode(), newline="")))
    eq(rows[0], COLUMNS, "header")
    eq(len(rows), 1 + len(s.rows), "rows")
    eq(rows[1][:9], ["1", "out", BAP, "BAP", GW, "search", DOMAIN, TXN, "m1"],
       "first")
    eq(rows[1][15], rfc3339(s.rows[0]["start_ms"]), "start")
    dead = [r for r in rows if r[19] == "dead"][0]
    eq((dead[18], dead[20], dead[21]), ("d2", "5", "HTTP 500"), "dead row")
    rc, out, err = jrun(s, "list", "--json", "--limit", "1000")
    listed = json.loads(out)["messages"]
    rc, out, err = jrun(s, "export", "--format", "jsonl")
    lines = out.decode().split("\n")
    eq(lines[-1], "", "ends with a newline")
    got = [json.loads(x) for x in lines[:-1]]
    eq(len(got), len(s.rows), "jsonl rows")
    for g, l, r in zip(got, listed, s.rows):
        eq(g.pop("body").encode(), r["body"], "body %d" % r["id"])
        eq(g, l, "row %d" % r["id"])
    rc, out, err = jrun(s, "export", "--format", "jsonl", "--transaction",
                        "other-txn")
    eq(len(out.decode().splitlines()), 1, "filtered export")
    rc, out, err = jrun(s, "export", "--format", "csv", "--limit", "2")
    eq(len(out.decode().splitlines()), 3, "export limit")


@test
def redeliver(W):
    s = Store("redeliver")
    s.add("in", BAP, "BAP", BPP1, "on_search", mid="m1",
          body_=b"{}", delivery=("k-dead", "dead", 5))
    s.add("in", BAP, "BAP", BPP1, "on_select", mid="m2",
          body_=b"{}", delivery=("k-ok", "delivered"))
    s.close()
    rc, out, err = jrun(s, "redeliver", "k-dead")
    eq(out.decode(), "requeued k-dead: the daemon delivers it within a "
       "second\n", "output")
    rc, out, err = jrun(s, "redeliver", "k-dead", rc=1)
    check("delivery k-dead is requeue, not dead or refused" in err, err)
    rc, out, err = jrun(s, "redeliver", "k-ok", rc=1)
    check("delivery k-ok is delivered" in err, err)
    rc, out, err = jrun(s, "redeliver", "zzz", rc=1)
    check("no dead or refused delivery with id zzz" in err, err)
    db = sqlite3.connect(s.path)
    eq(db.execute("SELECT delivery_state FROM messages ORDER BY id")
       .fetchall(), [("requeue",), ("delivered",)], "states")
    db.close()


def files_of(d):
    out = {}
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def bodies_of(s, participant, pred=lambda r: True):
    return [r for r in s.rows if r["participant"] == participant and
            r["transaction_id"] == TXN and r["ack"] == "ACK" and pred(r)]


@test
def vlogs_bap(W):
    s = W["demo"]
    out_dir = os.path.join(TMP, "vl-bap")
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "Org Name", "-o", out_dir, rc=1)
    check("several of our participants (%s, %s)" % (BAP, BPP1) in err and
          "--participant" in err, err)
    check(not os.path.exists(out_dir), "nothing written")
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "Org Name", "-o", out_dir,
                        "--participant", BAP)
    folder = "logs/Org Name-BAP/Learning Experiences"
    want = {}
    for r in bodies_of(s, BAP):
        name = r["action"]
        if name == "on_search":
            name += "-" + r["peer"]
        want[folder + "/" + name + ".json"] = r["body"]
    got = files_of(out_dir)
    eq(sorted(got), sorted(want), "files")
    for k in want:
        eq(got[k], want[k], k)		# byte for byte
    lines = out.decode().splitlines()
    eq(lines[-1], "pull request title: Org Name-BAP-Learning Experiences- "
       "API Payloads", "title")
    eq(sorted(lines[:-1]), sorted(os.path.join(out_dir, k) for k in want),
       "files printed")
    check(re.search(r"note: #\d+ on_status \(in\) left out: NACK", err), err)
    # Again with --pretty: the same JSON, re-indented.
    shutil.rmtree(out_dir)
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "Org Name", "-o", out_dir,
                        "--participant", BAP, "--pretty")
    got = files_of(out_dir)
    eq(sorted(got), sorted(want), "pretty files")
    for k in want:
        check(got[k] != want[k], "%s pretty", k)
        check(got[k].startswith(b'{\n  "context": {\n    "domain": '), k)
        check(b'"n": 1.50' in got[k], "number kept as written: %s" % k)
        eq(json.loads(got[k]), json.loads(want[k]), k)


@test
def vlogs_bpp(W):
    s = W["demo"]
    out_dir = os.path.join(TMP, "vl-bpp")
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "Acme", "-o", out_dir, "--participant",
                        BPP1, "--domain-name", "Courses X")
    folder = "logs/Acme-BPP/Courses X"
    want = {folder + "/" + r["action"] + ".json": r["body"]
            for r in bodies_of(s, BPP1)}
    eq(len(want), 10, "five pairs")
    got = files_of(out_dir)
    eq(got, want, "BPP files")
    eq(out.decode().splitlines()[-1], "pull request title: Acme-BPP-"
       "Courses X- API Payloads", "title")
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "Acme", "-o", out_dir, "--participant",
                        "nobody", rc=1)
    check("no message of participant nobody (it has %s, %s)" %
          (BAP, BPP1) in err, err)
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "a/b", "-o", out_dir, "--participant",
                        BPP1, rc=2)


@test
def vlogs_steps_and_domains(W):
    s = Store("steps")
    for dom, folder in (("onest:financial-support", "Financial Support"),
                        ("onest:work-opportunities", "Work Opportunities"),
                        ("onest:courses", "Courses"),
                        ("retail-and-more", "Retail And More")):
        txn = "t-" + dom
        s.add("out", BAP, "BAP", BPP1, "status", txn=txn, mid="s1",
              domain=dom, body_=body("status", "s1", txn=txn, bpp=BPP1))
        s.add("in", BAP, "BAP", BPP1, "on_status", txn=txn, mid="s1",
              domain=dom, body_=body("on_status", "s1", txn=txn, bpp=BPP1))
        s.add("in", BAP, "BAP", BPP1, "on_status", txn=txn, mid="s1",
              domain=dom, body_=body("on_status", "s1", txn=txn, bpp=BPP1,
                                     message={"n": 2}))
        s.add("out", BAP, "BAP", BPP1, "status", txn=txn, mid="s2",
              domain=dom, body_=body("status", "s2", txn=txn, bpp=BPP1))
        s.add("in", BAP, "BAP", BPP1, "on_status", txn=txn, mid="s2",
              domain=dom, body_=body("on_status", "s2", txn=txn, bpp=BPP1))
    s.close()
    for dom, folder in (("onest:financial-support", "Financial Support"),
                        ("onest:work-opportunities", "Work Opportunities"),
                        ("onest:courses", "Courses"),
                        ("retail-and-more", "Retail And More")):
        out_dir = os.path.join(TMP, "vl-steps-" + folder)
        rc, out, err = jrun(s, "verification-logs", "--transaction",
                            "t-" + dom, "--org", "O", "-o", out_dir)
        rows = [r for r in s.rows if r["transaction_id"] == "t-" + dom]
        names = ["status-step1", "on_status-step1", "on_status-step2",
                 "status-step2", "on_status-step3"]
        want = {"logs/O-BAP/%s/%s.json" % (folder, n): r["body"]
                for n, r in zip(names, rows)}
        eq(files_of(out_dir), want, dom)


def vlogs_refuses(W, name, rows, reason_rx):
    s = Store(name)
    for r in rows:
        s.add(*r[:5], **r[5])
    s.close()
    out_dir = os.path.join(TMP, "vl-" + name)
    rc, out, err = jrun(s, "verification-logs", "--transaction", TXN,
                        "--org", "O", "-o", out_dir, rc=1)
    check(re.search(reason_rx, err), "%s: %s" % (name, err))
    check("nothing written" in err, err)
    check(not os.path.exists(out_dir), "%s: nothing written" % name)
    eq(out, b"", "stdout")


@test
def vlogs_checks(W):
    req = ("out", BAP, "BAP", BPP1, "select")
    cb = ("in", BAP, "BAP", BPP1, "on_select")
    base = "Learning Experiences/"
    vlogs_refuses(W, "txn-mismatch", [
        req + (dict(mid="m1", body_=body("select", "m1", bpp=BPP1)),),
        cb + (dict(mid="m1", body_=body("on_select", "m1", txn="other",
                                        bpp=BPP1)),)],
        re.escape(base + "on_select.json: context.transaction_id is "
                  "\"other\", not " + TXN))
    vlogs_refuses(W, "version", [
        req + (dict(mid="m1", body_=body("select", "m1", bpp=BPP1,
                                         version="1.0.0")),),
        cb + (dict(mid="m1", body_=body("on_select", "m1", bpp=BPP1)),)],
        re.escape(base + "select.json: context.version is \"1.0.0\", not "
                  "1.1.0"))
    vlogs_refuses(W, "no-bodies", [
        req + (dict(mid="m1", body_=None),),
        cb + (dict(mid="m1", body_=body("on_select", "m1", bpp=BPP1)),)],
        re.escape(base + "select.json: the body of #1 was not kept") +
        r"[^\n]*\nbecknd journal: 1 problem: nothing written")
    vlogs_refuses(W, "unpaired", [
        req + (dict(mid="m1", body_=body("select", "m1", bpp=BPP1)),),
        cb + (dict(mid="m2", body_=body("on_select", "m2", bpp=BPP1)),)],
        re.escape(base + "on_select.json: no select request with "
                  "message_id m2") + ".*\n.*" +
        re.escape(base + "select.json: no on_select callback with "
                  "message_id m1"))
    vlogs_refuses(W, "bad-json", [
        req + (dict(mid="m1", body_=b'{"context":{},}'),),
        cb + (dict(mid="m1", body_=body("on_select", "m1", bpp=BPP1)),)],
        re.escape(base + "select.json: not valid JSON"))


@test
def usage_errors(W):
    s = W["demo"]
    rc, out, err = run("journal", rc=2)
    check("usage: becknd journal list" in err, err)
    rc, out, err = run("journal", "list", rc=2)
    check("give -c CONFIG or --store PATH" in err, err)
    rc, out, err = run("journal", "list", "--store", s.path, "-c", "x",
                       rc=2)
    rc, out, err = run("journal", "frob", "--store", s.path, rc=2)
    check('unknown subcommand "frob"' in err, err)
    rc, out, err = jrun(s, "list", "--format", "csv", rc=2)
    check("--format does not apply" in err, err)
    rc, out, err = jrun(s, "list", "--status", "ok", rc=2)
    check("--status must be" in err, err)
    rc, out, err = jrun(s, "list", "--limit", "1001", rc=2)
    rc, out, err = jrun(s, "list", "--since", "yesterday", rc=2)
    rc, out, err = jrun(s, "list", "--bogus", rc=2)
    check("--bogus" in err, err)
    rc, out, err = jrun(s, "show", rc=2)
    rc, out, err = jrun(s, "show", "a", "b", rc=2)
    rc, out, err = jrun(s, "export", rc=2)
    check("--format csv|jsonl is needed" in err, err)
    rc, out, err = jrun(s, "verification-logs", "--org", "x", rc=2)
    rc, out, err = run("journal", "list", "--store",
                       os.path.join(TMP, "missing.db"), rc=1)
    check(os.path.join(TMP, "missing.db") in err, err)
    check(not os.path.exists(os.path.join(TMP, "missing.db")), "created")
    rc, out, err = run("journal", "list", "-c",
                       os.path.join(TMP, "missing.yaml"), rc=2)
    check("missing.yaml" in err, err)
    rc, out, err = run("journal", "--help", rc=0)
    check(b"verification-logs --transaction ID --org NAME -o DIR" in out,
          "help")
    rc, out, err = run("journal", "list", "--help", rc=0)
    check(b"FILTERS" in out, "help")
    rc, out, err = run("--help", rc=0)
    check(b"  becknd journal " in out, "becknd --help lists journal")


def main():
    if not os.access(BIN, os.X_OK):
        log("journal: %s is not executable (set BECKND_BIN)" % BIN)
        log("journal: 0 passed, 1 failed")
        return 1
    log("journal: becknd %s%s" % (BIN, " under " + " ".join(WRAPPER)
                                  if WRAPPER else ""))
    started = time.monotonic()
    W = {"demo": demo_store()}
    try:
        for t in TESTS:
            if ONLY and ONLY not in t.__name__:
                continue
            t0 = time.monotonic()
            try:
                t(W)
                RESULTS["pass"] += 1
                log("ok   %s (%.1fs)" % (t.__name__, time.monotonic() - t0))
            except Exception as e:
                RESULTS["fail"] += 1
                log("FAIL %s: %s" % (t.__name__, e))
                if VERBOSE or not isinstance(e, Fail):
                    traceback.print_exc()
    finally:
        if os.environ.get("BECKND_JOURNAL_KEEP"):
            log("journal: kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    log("journal: runtime %.1fs" % (time.monotonic() - started))
    log("journal: %d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    return 1 if RESULTS["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
