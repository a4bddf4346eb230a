#!/usr/bin/env python3
"""network.py - a whole local Beckn network of becknd processes on 127.0.0.1.

Shared by the demo (contrib/demo.sh) and the network test
(tests/network/run-network), so both build the network the same way:

    registry   becknd serving registry.json as POST /lookup (listen.registry)
    gateway    becknd, role gateway (BG), network listener only
    bap        becknd BAP adaptor          + bap-app  (bap_client.py serve)
    bpp1       becknd BPP adaptor          + bpp1-app (bpp_app.py, a provider)
    bpp2       becknd BPP adaptor          + bpp2-app (bpp_app.py, another)

Every adaptor and the gateway look subscribers up at the registry process
(registry.url); keys come from `becknd keygen`; every configuration is
checked with `becknd -c FILE -t` before anything starts.  Each process
writes its output to <workdir>/logs/NAME.log, and <workdir>/pids lists the
PIDs of the processes currently running ("PID NAME" lines).

    python3 network.py demo [--becknd BIN] [--workdir DIR] [--keep]
                            [--port-base N] [--query TEXT]

Ports: --port-base N (or BECKND_DEMO_PORT) uses N..N+10 (7500 by default;
when one of those is taken, free ports are picked instead); 0 picks free
ports.  --keep (or BECKND_DEMO_KEEP=1) leaves the network running after the
flow and prints curl commands to try, until Ctrl-C.

As a module:  net = Network(becknd, srcdir, workdir, port_base=0);
net.write(); net.check_configs(); net.start(); ...; net.stop().
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(os.path.dirname(HERE))
DOMAIN = "onest:courses"
HOST = "127.0.0.1"
DEFAULT_PORT_BASE = 7500

# Port offsets from the base.
PORTS = {
    "registry": 0,
    "gateway.net": 1,
    "bap.net": 2, "bap.client": 3, "bap.app": 4,
    "bpp1.net": 5, "bpp1.client": 6, "bpp1.app": 7,
    "bpp2.net": 8, "bpp2.client": 9, "bpp2.app": 10,
}

# The participants: name -> (subscriber_id, registry type, role, path,
# catalog provider served by its app).
PARTIES = [
    ("gateway", "gateway.sandbox.test", "BG", "gateway", "/gateway", None),
    ("bap", "bap.sandbox.test", "BAP", "bap", "/bap", None),
    ("bpp1", "bpp.lakeside.sandbox.test", "BPP", "bpp", "/bpp",
     "prov-lakeside"),
    ("bpp2", "bpp.sunpath.sandbox.test", "BPP", "bpp", "/bpp",
     "prov-sunpath"),
]


class NetworkError(Exception):
    pass


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def yq(s):
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(s)


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As the servers do (SO_REUSEADDR): TIME_WAIT leftovers are no obstacle.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(n):
    """n distinct ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_answers(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class Party:
    def __init__(self, name, sid, typ, role, path, provider):
        self.name, self.sid, self.type, self.role = name, sid, typ, role
        self.path, self.provider = path, provider
        self.kid = sid + ".k1"
        self.private_key = self.public_key = None
        self.net_port = self.client_port = self.app_port = None

    @property
    def subscriber_url(self):
        return "http://%s:%d%s" % (HOST, self.net_port, self.path)

    @property
    def client_url(self):
        """The client listener URL the party's app posts to."""
        return "http://%s:%d%s" % (HOST, self.client_port, self.path)

    @property
    def app_url(self):
        return "http://%s:%d" % (HOST, self.app_port)


class Proc:
    def __init__(self, name, argv, log, ports, cwd):
        self.name, self.argv, self.log, self.ports = name, argv, log, ports
        self.cwd = cwd
        self.popen = None
        self.rc = None

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None


class Network:
    def __init__(self, becknd, srcdir=SRCDIR, workdir=None, port_base=None,
                 out=None, lower_types=False, extra=None):
        self.becknd = os.path.abspath(becknd)
        # Registries in the wild spell types "bpp" as well as "BPP".
        self.lower_types = lower_types
        # extra(name) -> (lines under "listen:", top-level lines) added
        # to a participant's configuration (tests: listen.admin,
        # telemetry).
        self.extra = extra
        self.srcdir = os.path.abspath(srcdir)
        self.sandbox = os.path.join(self.srcdir, "contrib", "sandbox")
        self.own_workdir = workdir is None
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(
            prefix="becknd-net-"))
        os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.workdir, "keys"), exist_ok=True)
        self.out = out
        self.parties = {p[0]: Party(*p) for p in PARTIES}
        self.procs = {}
        self.order = []
        self.configs = {}
        self.schemas = [os.path.join(self.srcdir, "schemas", *p) for p in (
            ("core", "transaction.yaml"), ("core", "meta.yaml"),
            ("onest", "onest-policy.yaml"))]
        self.ports = self.pick_ports(port_base)
        g = self.parties
        g["gateway"].net_port = self.ports["gateway.net"]
        for n in ("bap", "bpp1", "bpp2"):
            g[n].net_port = self.ports[n + ".net"]
            g[n].client_port = self.ports[n + ".client"]
            g[n].app_port = self.ports[n + ".app"]
        self.registry_url = "http://%s:%d" % (HOST, self.ports["registry"])

    def say(self, s=""):
        if self.out is not None:
            print(s, file=self.out, flush=True)

    # --- ports --------------------------------------------------------------

    def pick_ports(self, base):
        """base None: the default range, or free ports when it is taken;
        0: free ports; N: N..N+10 or an error."""
        n = len(PORTS)
        if base == 0:
            got = free_ports(n)
        else:
            b = DEFAULT_PORT_BASE if base is None else base
            want = [b + off for off in sorted(PORTS.values())]
            busy = [p for p in want if not port_free(p)]
            if not busy:
                got = want
            elif base is None:
                self.say("ports %d-%d: %s in use; using free ports instead" %
                         (want[0], want[-1], ", ".join(map(str, busy))))
                got = free_ports(n)
            else:
                raise NetworkError("port%s %s in use (choose another base, "
                                   "or 0 for free ports)" % (
                                       "s" if len(busy) > 1 else "",
                                       ", ".join(map(str, busy))))
        return {k: got[i] for i, k in enumerate(
            sorted(PORTS, key=lambda k: PORTS[k]))}

    # --- files --------------------------------------------------------------

    def path(self, *p):
        return os.path.join(self.workdir, *p)

    def run_becknd(self, args, stdin=b"", timeout=20):
        p = subprocess.run([self.becknd] + list(args), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=self.workdir)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def keygen(self):
        rc, out, err = self.run_becknd(["keygen"])
        if rc != 0:
            raise NetworkError("becknd keygen: exit %d: %s" % (rc,
                                                               err.strip()))
        kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        try:
            return kv["signing_private_key"].strip(), \
                kv["signing_public_key"].strip()
        except KeyError:
            raise NetworkError("becknd keygen printed no key pair: %r" % out)

    def registry_records(self):
        now = time.time()
        return [{
            "subscriber_id": p.sid,
            "subscriber_url": p.subscriber_url,
            "type": p.type.lower() if self.lower_types else p.type,
            "domain": DOMAIN,
            "ukId": p.kid,
            "signing_public_key": p.public_key,
            "status": "SUBSCRIBED",
            "valid_from": rfc3339(now - 86400),
            "valid_until": rfc3339(now + 365 * 86400),
        } for p in self.parties.values()]

    def config_text(self, name):
        """The becknd configuration of one process."""
        L = ["# %s - generated by contrib/sandbox/network.py" % name]
        if name == "registry":
            return "\n".join(L + [
                "listen:",
                "  registry: %s" % yq("%s:%d" % (HOST,
                                                 self.ports["registry"])),
                "registry:",
                "  file: registry.json",
                "log:",
                "  level: info",
            ]) + "\n"
        p = self.parties[name]
        listen, more = self.extra(name) if self.extra is not None else \
            ([], [])
        L += ["listen:",
              "  network: %s" % yq("%s:%d" % (HOST, p.net_port))]
        if p.client_port is not None:
            L.append("  client: %s" % yq("%s:%d" % (HOST, p.client_port)))
        L += listen
        L += ["registry:",
              "  url: %s" % yq(self.registry_url),
              "  cache_ttl: 1m",
              "  negative_ttl: 2s",
              "  timeout: 3s",
              "  connect_timeout: 1s",
              "schemas:"] + ["  - %s" % yq(s) for s in self.schemas] + [
              "delivery:",
              "  retries: 5",
              "  backoff: 200ms",
              "  backoff_max: 2s",
              "  webhook_timeout: 5s",
              "  upstream_timeout: 5s",
              "  shutdown_timeout: 2s",
              "log:",
              "  level: info"] + more + [
              "store:",
              "  path: %s" % yq(name + ".db"),
              "participants:",
              "  - subscriber_id: %s" % yq(p.sid),
              "    key_id: %s" % yq(p.kid),
              "    role: %s" % p.role,
              "    private_key_file: %s" % yq("keys/%s.key" % name),
              "    subscriber_url: %s" % yq(p.subscriber_url)]
        if p.app_port is not None:
            L.append("    webhook: %s" % yq(p.app_url + "/{action}"))
        L.append("    domains: [%s]" % yq(DOMAIN))
        return "\n".join(L) + "\n"

    def write(self):
        """Keys, registry.json and one configuration per becknd process."""
        for name, p in self.parties.items():
            p.private_key, p.public_key = self.keygen()
            kp = self.path("keys", name + ".key")
            fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(p.private_key + "\n")
        with open(self.path("registry.json"), "w") as f:
            json.dump(self.registry_records(), f, indent=2)
            f.write("\n")
        for name in ["registry"] + list(self.parties):
            self.configs[name] = self.path(name + ".yaml")
            with open(self.configs[name], "w") as f:
                f.write(self.config_text(name))
        return self.configs

    def check_configs(self):
        """[(name, path, ok, output)] of `becknd -c FILE -t`."""
        res = []
        for name, path in self.configs.items():
            rc, out, err = self.run_becknd(["-c", path, "-t"])
            text = (out + err).strip()
            last = text.split("\n")[-1] if text else ""
            res.append((name, path, rc == 0 and not err.strip() and
                        last == "%s: ok" % path, text))
        return res

    # --- processes ----------------------------------------------------------

    def write_pids(self):
        tmp = self.path("pids.new")
        with open(tmp, "w") as f:
            for n in self.order:
                pr = self.procs[n]
                if pr.alive():
                    f.write("%d %s\n" % (pr.pid, n))
        os.rename(tmp, self.path("pids"))

    def spawn(self, name, argv, ports, timeout=10.0):
        log = self.path("logs", name + ".log")
        pr = Proc(name, argv, log, ports, self.workdir)
        with open(log, "ab") as lf:
            # A session of its own: a terminal's Ctrl-C reaches only the
            # demo, which then stops each process by PID in order.
            pr.popen = subprocess.Popen(argv, cwd=self.workdir,
                                        stdin=subprocess.DEVNULL, stdout=lf,
                                        stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.procs[name] = pr
        if name not in self.order:
            self.order.append(name)
        self.write_pids()
        self.wait_ports(pr, timeout)
        return pr

    def wait_ports(self, pr, timeout):
        deadline = time.monotonic() + timeout
        left = list(pr.ports)
        while left:
            if not pr.alive():
                raise NetworkError("%s exited (status %s) before port %s "
                                   "answered; %s:\n%s" % (
                                       pr.name, pr.popen.poll(),
                                       left[0], pr.log, self.log_tail(
                                           pr.name)))
            if port_answers(left[0]):
                left.pop(0)
                continue
            if time.monotonic() > deadline:
                raise NetworkError("%s: port %d does not answer after %.0fs; "
                                   "%s:\n%s" % (pr.name, left[0], timeout,
                                                pr.log,
                                                self.log_tail(pr.name)))
            time.sleep(0.05)

    def becknd_argv(self, name):
        return [self.becknd, "-c", self.configs[name]]

    def start_one(self, name):
        """Start one process of the network by name and wait for it."""
        py = sys.executable or "python3"
        if name == "registry":
            return self.spawn(name, self.becknd_argv(name),
                              [self.ports["registry"]])
        if name in self.parties:
            p = self.parties[name]
            return self.spawn(name, self.becknd_argv(name), [
                x for x in (p.net_port, p.client_port) if x is not None])
        if name == "bap-app":
            p = self.parties["bap"]
            return self.spawn(name, [py, os.path.join(
                self.sandbox, "bap_client.py"), "serve", "--host", HOST,
                "--port", str(p.app_port)], [p.app_port])
        if name in ("bpp1-app", "bpp2-app"):
            p = self.parties[name[:-4]]
            return self.spawn(name, [py, os.path.join(
                self.sandbox, "bpp_app.py"), "--host", HOST,
                "--port", str(p.app_port), "--adaptor", p.client_url,
                "--catalog", os.path.join(self.sandbox, "catalog.json"),
                "--provider", p.provider, "--name", name], [p.app_port])
        raise NetworkError("no process %r" % name)

    START_ORDER = ["registry", "gateway", "bpp1", "bpp2", "bap",
                   "bpp1-app", "bpp2-app", "bap-app"]

    def start(self, timeout=10.0):
        for name in self.START_ORDER:
            self.start_one(name)
        return self

    def stop_one(self, name, timeout=5.0):
        """SIGTERM by PID, SIGKILL after timeout; the exit status."""
        pr = self.procs.get(name)
        if pr is None or pr.popen is None:
            return None
        if pr.alive():
            try:
                os.kill(pr.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                pr.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(pr.pid, signal.SIGKILL)
                pr.popen.wait(5)
        pr.rc = pr.popen.returncode
        self.write_pids()
        return pr.rc

    def stop(self, timeout=5.0):
        """Stop every process (apps first), by PID; {name: exit status}."""
        rcs = {}
        for name in reversed(self.order):
            rcs[name] = self.stop_one(name, timeout)
        return rcs

    def cleanup(self):
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- logs ---------------------------------------------------------------

    def log_lines(self, name):
        """The process's log, one message per line (JSON log lines
        reduced to their "msg")."""
        try:
            with open(self.path("logs", name + ".log"), encoding="utf-8",
                      errors="replace") as f:
                raw = f.read().splitlines()
        except OSError:
            return []
        out = []
        for l in raw:
            try:
                o = json.loads(l)
                out.append(o.get("msg", l) if isinstance(o, dict) else l)
            except ValueError:
                out.append(l)
        return out

    def log_tail(self, name, n=15):
        return "\n".join("    " + l for l in self.log_lines(name)[-n:])

    def wait_log(self, name, pattern, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for l in self.log_lines(name):
                if rx.search(l):
                    return l
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


# --- the demo ----------------------------------------------------------------

def curl_lines(net):
    bap = net.parties["bap"]
    sun = net.parties["bpp2"]
    c = bap.client_url
    return [
        "# search: every BPP of onest:courses answers through the gateway",
        "curl -s -H 'Content-Type: application/json' "
        "'%s/search?sync=true&wait=PT3S' "
        "-d '{\"message\":{\"intent\":{\"item\":{\"descriptor\":"
        "{\"name\":\"solar\"}}}}}'" % c,
        "# select one course of one BPP (bpp_id and bpp_uri as registered)",
        "curl -s -H 'Content-Type: application/json' "
        "'%s/select?sync=true&wait=PT5S' -d '{\"context\":{\"bpp_id\":"
        "\"%s\",\"bpp_uri\":\"%s\"},\"message\":{\"order\":{\"provider\":"
        "{\"id\":\"prov-sunpath\"},\"items\":[{\"id\":\"sp-solar-intro\"}]}}}'"
        % (c, sun.sid, sun.subscriber_url),
        "# without ?sync=true the callbacks only go to the BAP app's webhook:",
        "curl -s '%s/callbacks?action=on_select'" % bap.app_url,
        "# what the registry knows",
        "curl -s %s/lookup -d '{\"type\":\"BPP\",\"domain\":\"%s\"}'" % (
            net.registry_url, DOMAIN),
        "# the whole enrolment, every action",
        "python3 %s flow --all --adaptor %s --query solar" % (
            os.path.relpath(os.path.join(net.sandbox, "bap_client.py")), c),
        "# what the BAP adaptor sent and received, and one transaction's",
        "# timeline with its bodies",
        "%s journal list -c %s" % (net.becknd, net.configs["bap"]),
        "%s journal show -c %s TRANSACTION_ID" % (net.becknd,
                                                  net.configs["bap"]),
    ]


def show_path(net):
    """The log lines of the flow's search and confirm, hop by hop."""
    def lines(name, rx):
        r = re.compile(rx)
        return [l for l in net.log_lines(name) if r.search(l)]

    def show(name, rx, limit=1):
        for l in lines(name, rx)[:limit]:
            net.say("  %-9s %s" % (name, l))

    fwd = lines("gateway", r"^gateway: search \S+ forwarded")
    if fwd:
        mid = fwd[0].split()[2]
        net.say("  search (message_id %s):" % mid)
        show("bap", r"^client: .* search \(message_id %s\)" % mid)
        show("gateway", r"^network: ACK .*\(message_id %s\)" % mid)
        show("gateway", r"^gateway: search %s forwarded" % mid)
        for n in ("bpp1", "bpp2"):
            show(n, r"^network: ACK .* search .*\(message_id %s\)" % mid)
            show(n + "-app", r": search ")
            show(n, r"^client: .* on_search \(message_id %s\)" % mid)
        show("bap", r"^network: ACK .* on_search .*\(message_id %s\)" % mid,
             2)
    for n in ("bpp1", "bpp2"):
        conf = lines(n, r"^network: ACK .* confirm from .*\(message_id ")
        if not conf:
            continue
        mid = conf[0].rsplit(" ", 1)[-1].rstrip(")")
        net.say("  confirm (message_id %s):" % mid)
        show("bap", r"^client: .* confirm \(message_id %s\)" % mid)
        show(n, r"^network: ACK .* confirm .*\(message_id %s\)" % mid)
        show(n + "-app", r": confirm: ")
        show(n, r"^client: .* on_confirm \(message_id %s\)" % mid)
        show("bap", r"^network: ACK .* on_confirm .*\(message_id %s\)" % mid)


def demo(a):
    out = sys.stdout
    keep = a.keep or os.environ.get("BECKND_DEMO_KEEP", "") not in ("", "0")
    base = a.port_base
    if base is None and os.environ.get("BECKND_DEMO_PORT", "") != "":
        base = int(os.environ["BECKND_DEMO_PORT"])
    net = None
    status = 1

    stopping = []

    def on_signal(sig, frame):
        # The first signal stops the demo; more (demo.sh forwards Ctrl-C
        # as SIGTERM) must not interrupt the orderly stop.
        if not stopping:
            stopping.append(sig)
            raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        net = Network(a.becknd, a.srcdir, a.workdir, base, out=out)
        say = net.say
        say("becknd demo: a local Beckn network on %s (files in %s)" % (
            HOST, net.workdir))
        say()
        say("== keys, registry, configuration")
        net.write()
        for p in net.parties.values():
            say("  %-8s %-28s %-3s key %s…" % (p.name, p.sid, p.type,
                                               p.public_key[:16]))
        say("  registry.json: %d subscribers of %s" % (len(net.parties),
                                                        DOMAIN))
        bad = 0
        for name, path, ok, text in net.check_configs():
            say("  becknd -c %s -t: %s" % (os.path.basename(path),
                                           "ok" if ok else "FAILED"))
            if not ok:
                say("    " + text.replace("\n", "\n    "))
                bad += 1
        if bad:
            raise NetworkError("%d configuration%s failed the check" % (
                bad, "" if bad == 1 else "s"))
        say()
        say("== starting")
        for name in Network.START_ORDER:
            pr = net.start_one(name)
            what = {
                "registry": "registry     POST %s/lookup" % net.registry_url,
                "gateway": "gateway (BG) network %s" %
                           net.parties["gateway"].subscriber_url,
                "bap-app": "BAP app webhook %s/{action}" %
                           net.parties["bap"].app_url,
            }.get(name)
            if what is None and name in net.parties:
                p = net.parties[name]
                what = "%s adaptor  network %s, client %s" % (
                    p.type, p.subscriber_url, p.client_url)
            elif what is None:
                p = net.parties[name[:-4]]
                what = "BPP app (%s) webhook %s/{action}" % (p.provider,
                                                              p.app_url)
            say("  %-9s pid %-7d %s" % (name, pr.pid, what))
        say()
        say("== a course enrolment: contrib/sandbox/bap_client.py flow")
        bap = net.parties["bap"]
        flow = subprocess.run(
            [sys.executable, os.path.join(net.sandbox, "bap_client.py"),
             "flow", "--adaptor", bap.client_url, "--query", a.query,
             "--check-webhook", bap.app_url], timeout=120)
        say()
        say("== what the network logged, along the path of the messages")
        show_path(net)
        say()
        say("== the BAP adaptor's journal (becknd journal list -c bap.yaml;"
            " `show ID` adds the bodies)")
        rc, out, err = net.run_becknd(["journal", "list", "-c",
                                       net.configs["bap"]])
        for l in (out + err).rstrip("\n").split("\n"):
            say("  " + l)
        if flow.returncode != 0:
            raise NetworkError("the flow failed (exit %d); logs in %s" % (
                flow.returncode, os.path.join(net.workdir, "logs")))
        if keep:
            say()
            say("== the network keeps running; try (Ctrl-C stops it):")
            for l in curl_lines(net):
                say("  " + l)
            say("  # logs: %s/*.log" % os.path.join(net.workdir, "logs"))
            while True:
                dead = [n for n in net.order if not net.procs[n].alive()]
                if dead:
                    raise NetworkError("%s stopped on its own" %
                                       ", ".join(dead))
                time.sleep(0.5)
        status = 0
    except KeyboardInterrupt:
        status = 0 if keep else 130
    except (NetworkError, subprocess.TimeoutExpired, OSError) as e:
        print("becknd demo: %s" % e, file=sys.stderr, flush=True)
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if net is not None:
            net.say()
            net.say("== stopping")
            rcs = net.stop()
            net.say("  stopped %d processes by PID (%s)" % (
                len(rcs), ", ".join("%s %s" % (n, "ok" if rc == 0 else
                                              "exit %s" % rc)
                                    for n, rc in rcs.items())))
            net.cleanup()
    if status == 0:
        print("becknd demo: done", flush=True)
    return status


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="run the network and a course enrolment")
    d.add_argument("--becknd", default=os.path.join(SRCDIR, "build", "demo",
                                                    "becknd"))
    d.add_argument("--srcdir", default=SRCDIR)
    d.add_argument("--workdir", help="folder for keys, configs and logs "
                   "(default: a new temporary one, removed at the end)")
    d.add_argument("--port-base", type=int)
    d.add_argument("--keep", action="store_true")
    d.add_argument("--query", default="python")
    a = ap.parse_args(argv)
    return demo(a)


if __name__ == "__main__":
    sys.exit(main())
