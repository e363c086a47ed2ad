#!/usr/bin/env python3
"""Helpers for bench/run.sh and bench/scale.sh (Python 3 standard library only).

  benchtool.py csv N_V4 N_V6 OUT.csv         deterministic GeoIP CSV for `meridian geoip build`
  benchtool.py ecs-queries CSV N OUT.bin [NAME]
                                             N queries for NAME (www.gslb.example) A, each
                                             with EDNS Client Subnet from a different client
                                             subnet, in dnsperf's -B binary format
  benchtool.py wait PORT NAME SECONDS        wait until a server on 127.0.0.1:PORT answers NAME A
  benchtool.py port-free PORT                exit 0 if UDP and TCP 127.0.0.1:PORT are free
  benchtool.py compare BIN PORT_A PORT_B N   send the first N queries of BIN to both servers and
                                             compare the A records they answer
  benchtool.py dnsperf-summary FILE          QPS, average/max latency, stddev, lost, rcodes of
                                             one dnsperf run, as shell-friendly key=value lines
  benchtool.py latency FILE                  percentiles from `dnsperf -v` per-query lines
  benchtool.py median-qps RESULTS SERVER MIX median QPS of the measured runs (an integer)
  benchtool.py report RESULTS KEY=VALUE...   the table bench/run.sh prints
  benchtool.py scale-config N DIR PORT       a meridian config with N geo services (bench/scale.sh)
  benchtool.py gdnsd-scale-config N DIR PORT the same N services as gdnsd 3 DYNA resources: DIR/config
                                             and DIR/zones/gslb.example (bench/scale.sh gdnsd)
  benchtool.py logtime LOG PATTERN START_NS [NTH]  ms from START_NS (date +%s%N) to the timestamp
                                             of the NTH (default first) line of meridian's LOG
                                             holding PATTERN

Everything is deterministic (fixed seeds), so two runs of the benchmark send
the same queries to the same database.
"""

import ipaddress
import math
import random
import socket
import struct
import sys
import time

# Countries used by the generated database: code, continent, latitude,
# longitude, subdivisions (ISO 3166-2 without the country prefix), weight.
COUNTRIES = [
    ("US", "NA", 39.8, -98.6, ["CA", "VA", "TX", "NY", "WA"], 30),
    ("CA", "NA", 56.1, -106.3, ["ON", "QC", "BC"], 4),
    ("MX", "NA", 23.6, -102.6, [], 3),
    ("GB", "EU", 54.0, -2.0, ["ENG", "SCT"], 6),
    ("DE", "EU", 51.2, 10.5, ["BE", "HE", "BY"], 7),
    ("FR", "EU", 46.2, 2.2, ["IDF"], 5),
    ("IE", "EU", 53.4, -8.2, [], 2),
    ("NL", "EU", 52.1, 5.3, [], 3),
    ("PL", "EU", 51.9, 19.1, [], 2),
    ("JP", "AS", 36.2, 138.3, ["13", "27"], 7),
    ("SG", "AS", 1.35, 103.8, [], 2),
    ("IN", "AS", 20.6, 79.0, ["MH", "KA"], 6),
    ("KR", "AS", 35.9, 127.8, [], 3),
    ("CN", "AS", 35.9, 104.2, [], 5),
    ("BR", "SA", -14.2, -51.9, ["SP", "RJ"], 5),
    ("AR", "SA", -38.4, -63.6, [], 2),
    ("CL", "SA", -35.7, -71.5, [], 1),
    ("AU", "OC", -25.3, 133.8, ["NSW", "VIC"], 3),
    ("NZ", "OC", -40.9, 174.9, [], 1),
    ("ZA", "AF", -30.6, 22.9, ["GP"], 2),
    ("NG", "AF", 9.1, 8.7, [], 2),
    ("KE", "AF", -0.02, 37.9, [], 1),
    ("EG", "AF", 26.8, 30.8, [], 1),
]

# IPv4 space the generator never hands out: special-purpose ranges, and the
# ones the benchmark uses on purpose (10/8 is a `nets` entry, 127/8 is the
# load generator's own address, added as one row below).
RESERVED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
        "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
        "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/3",
    )
]

QNAME = "www.gslb.example"


def die(msg):
    sys.stderr.write("benchtool: %s\n" % msg)
    sys.exit(1)


# --------------------------------------------------------------------------
# The GeoIP CSV


def gen_csv(n_v4, n_v6, out):
    rng = random.Random(6)
    weights = [c[5] for c in COUNTRIES]
    rows = []

    def row(net, c):
        code, cont, lat, lon, subs, _ = c
        lat = max(-89.0, min(89.0, lat + rng.uniform(-3, 3)))
        lon = max(-179.0, min(179.0, lon + rng.uniform(-3, 3)))
        sub = rng.choice(subs) if subs and rng.random() < 0.7 else ""
        asn = 64512 + rng.randrange(60000)
        return "%s,%s,%s,%.4f,%.4f,%s,%d" % (net, code, cont, lat, lon, sub, asn)

    # IPv4: aligned blocks of /16 to /24 walking up the address space with
    # random gaps (unlisted space: clients there get the map's default).
    addr = int(ipaddress.IPv4Address("1.0.0.0"))
    end = int(ipaddress.IPv4Address("223.255.255.255"))
    # average block plus gap must fit the space
    span = (end - addr) // max(n_v4, 1)
    made = 0
    while made < n_v4:
        plen = rng.choice([16, 18, 19, 20, 20, 21, 22, 22, 23, 24, 24, 24])
        size = 1 << (32 - plen)
        if size * 2 > span:
            plen = 24
            size = 256
        addr = (addr + size - 1) // size * size
        if addr + size > end:
            die("IPv4 space exhausted after %d networks; ask for fewer" % made)
        net = ipaddress.ip_network((addr, plen))
        clash = [r for r in RESERVED_V4 if net.overlaps(r)]
        if clash:
            addr = int(clash[0].broadcast_address) + 1
            continue
        rows.append(row(net, rng.choices(COUNTRIES, weights)[0]))
        made += 1
        addr += size + rng.randrange(0, max(1, span - size)) // 256 * 256

    # IPv6: /32 to /48 blocks under 2400::/6 (real allocations live there).
    a6 = int(ipaddress.IPv6Address("2400::"))
    for _ in range(n_v6):
        plen = rng.choice([32, 36, 40, 44, 48, 48])
        size = 1 << (128 - plen)
        a6 = (a6 + size - 1) // size * size
        rows.append(row(ipaddress.ip_network((a6, plen)), rng.choices(COUNTRIES, weights)[0]))
        a6 += size * (1 + rng.randrange(4))

    with open(out, "w") as f:
        f.write("# Generated by bench/benchtool.py csv %d %d: INVENTED data for the\n" % (n_v4, n_v6))
        f.write("# benchmark, not geolocation. 127.0.0.0/8 is the load generator itself.\n")
        f.write("network,country,continent,latitude,longitude,subdivision,asn\n")
        f.write("127.0.0.0/8,US,NA,38.9586,-77.3570,VA,64496\n")
        f.write("\n".join(rows))
        f.write("\n")


def read_csv_networks(path):
    nets = []
    with open(path) as f:
        header = False
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not header:
                header = True
                continue
            nets.append(ipaddress.ip_network(line.split(",")[0].strip()))
    return nets


# --------------------------------------------------------------------------
# DNS wire format


def qname_wire(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"


def query(name, qtype=1, ecs=None, qid=0):
    """A query; ecs = (ipaddress.IPv4Network or IPv6Network) adds an OPT RR
    with EDNS Client Subnet (RFC 7871), source prefix = the network's."""
    hdr = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1 if ecs is not None else 0)
    q = qname_wire(name) + struct.pack(">HH", qtype, 1)
    if ecs is None:
        return hdr + q
    fam = 1 if ecs.version == 4 else 2
    plen = ecs.prefixlen
    addr = ecs.network_address.packed[: (plen + 7) // 8]
    opt = struct.pack(">HBB", fam, plen, 0) + addr
    opt = struct.pack(">HH", 8, len(opt)) + opt
    return hdr + q + b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(opt)) + opt


def skip_name(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def answer_set(msg):
    """(rcode, sorted A/AAAA addresses in the answer section)."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    i = 12
    for _ in range(qd):
        i = skip_name(msg, i) + 4
    out = []
    for _ in range(an):
        i = skip_name(msg, i)
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[i : i + 10])
        i += 10
        rd = msg[i : i + rdlen]
        i += rdlen
        if rtype == 1:
            out.append(str(ipaddress.IPv4Address(rd)))
        elif rtype == 28:
            out.append(str(ipaddress.IPv6Address(rd)))
    return flags & 0xF, sorted(out)


def ask(port, packet, timeout=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(packet, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return data
    finally:
        s.close()


# --------------------------------------------------------------------------
# Commands


def cmd_ecs_queries(csv, n, out, qname=QNAME):
    """N different client subnets: 90% a /24 (IPv4) or /56 (IPv6) inside a
    network of the database, 5% inside 10.0.0.0/8 (a `nets` entry), 5% in
    space the database does not list (the map's default)."""
    rng = random.Random(7)
    nets = read_csv_networks(csv)
    v4 = [x for x in nets if x.version == 4 and x.prefixlen > 8]
    v6 = [x for x in nets if x.version == 6]
    unlisted = [ipaddress.ip_network(x) for x in ("100.64.0.0/10", "198.18.0.0/15", "172.16.0.0/12")]
    seen = set()
    packets = []
    attempts = 0
    while len(packets) < n:
        r = rng.random()
        if r < 0.05:
            base, plen = ipaddress.ip_network("10.0.0.0/8"), 24
        elif r < 0.10:
            base, plen = rng.choice(unlisted), 24
        elif r < 0.20 and v6:
            base, plen = rng.choice(v6), 56
        else:
            base, plen = rng.choice(v4), 24
        size = 1 << (base.max_prefixlen - base.prefixlen)
        host = int(base.network_address) + rng.randrange(size)
        sub = ipaddress.ip_network((host, plen), strict=False)
        attempts += 1
        if sub in seen:
            if attempts > 20 * n:
                die("could not find %d distinct subnets" % n)
            continue
        seen.add(sub)
        packets.append(query(qname, 1, sub))
    with open(out, "wb") as f:
        for p in packets:
            f.write(struct.pack(">H", len(p)) + p)
    print("%d queries, %d distinct client subnets" % (len(packets), len(seen)))


def read_bin(path):
    data = open(path, "rb").read()
    i, out = 0, []
    while i < len(data):
        (n,) = struct.unpack(">H", data[i : i + 2])
        out.append(data[i + 2 : i + 2 + n])
        i += 2 + n
    return out


def cmd_wait(port, name, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            rcode, addrs = answer_set(ask(port, query(name, qid=1), timeout=0.3))
            if rcode == 0 and addrs:
                return 0
        except OSError:
            pass
        time.sleep(0.1)
    return 1


def cmd_port_free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return 1
        finally:
            s.close()
    return 0


def cmd_compare(path, port_a, port_b, n):
    packets = read_bin(path)[:n]
    packets.insert(0, query(QNAME))  # and once without ECS: the source address
    same, diff, examples = 0, 0, []
    for i, p in enumerate(packets):
        p = struct.pack(">H", 1000 + i) + p[2:]
        try:
            a = answer_set(ask(port_a, p))
            b = answer_set(ask(port_b, p))
        except OSError as e:
            die("no answer: %s" % e)
        if a == b and a[0] == 0 and a[1]:
            same += 1
        else:
            diff += 1
            if len(examples) < 5:
                examples.append("query %d: %s vs %s" % (i, a, b))
    print("answers agree for %d of %d queries (%d differ)" % (same, same + diff, diff))
    for e in examples:
        print("  " + e)
    return 0 if diff == 0 else 2


def cmd_dnsperf_summary(path):
    import re

    text = open(path, errors="replace").read()

    def grab(pattern, default="nan"):
        m = re.search(pattern, text)
        return m.group(1) if m else default

    qps = grab(r"Queries per second:\s+([\d.]+)")
    avg = grab(r"Average Latency \(s\):\s+([\d.]+)")
    mx = grab(r"Average Latency \(s\):.*max ([\d.]+)\)")
    sd = grab(r"Latency StdDev \(s\):\s+([\d.]+)")
    sent = grab(r"Queries sent:\s+(\d+)", "0")
    lost = grab(r"Queries lost:\s+(\d+)", "0")
    codes = grab(r"Response codes:\s+(.*)", "none").strip()
    noerror = grab(r"NOERROR (\d+)", "0")
    print("qps=%s" % qps)
    print("avg_ms=%s" % ms(avg))
    print("max_ms=%s" % ms(mx))
    print("sd_ms=%s" % ms(sd))
    print("sent=%s" % sent)
    print("lost=%s" % lost)
    print("noerror=%s" % noerror)
    print("codes='%s'" % codes.replace("'", ""))


def ms(s):
    try:
        return "%.3f" % (float(s) * 1000)
    except ValueError:
        return "nan"


def cmd_latency(path):
    """dnsperf -v prints one line per query: '> RCODE name type SECONDS', or
    '> T ...' for a query that timed out. Timeouts count as the slowest
    answers (they are in the tail), so a lost query can only raise p99."""
    lat, timeouts = [], 0
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith("> "):
                continue
            parts = line.split()
            if parts[1] == "T":
                timeouts += 1
                continue
            try:
                lat.append(float(parts[-1]))
            except ValueError:
                pass
    n = len(lat) + timeouts
    if n == 0:
        print("n=0")
        return
    lat.sort()

    def pct(p):
        k = min(n, max(1, math.ceil(p / 100.0 * n))) - 1  # nearest rank
        return float("inf") if k >= len(lat) else lat[max(k, 0)]

    print("n=%d" % n)
    print("timeouts=%d" % timeouts)
    print("avg_ms=%.3f" % (sum(lat) / len(lat) * 1000 if lat else float("nan")))
    for p in (50, 90, 99, 99.9):
        print("p%s_ms=%.3f" % (str(p).replace(".", "_"), pct(p) * 1000))
    print("max_ms=%.3f" % (lat[-1] * 1000 if lat else float("nan")))


def cmd_logtime(log, pattern, start_ns, nth=1):
    """meridian logs with tracing's default format: an RFC 3339 UTC
    timestamp with microseconds first on each line. The NTH line holding
    PATTERN counts (the first by default)."""
    import datetime

    seen = 0
    with open(log, errors="replace") as f:
        for line in f:
            if pattern in line:
                seen += 1
                if seen < nth:
                    continue
                stamp = line.split()[0].replace("Z", "+00:00")
                t = datetime.datetime.fromisoformat(stamp).timestamp()
                print("%.0f" % ((t - start_ns / 1e9) * 1000))
                return 0
    print("nan")
    return 1


def scale_pools(i):
    """Service i's pools in the scale configurations, as (region, addresses):
    one source for meridian's (scale-config) and gdnsd's (gdnsd-scale-config)."""
    b = i % 250
    return [
        (region, ["%s.%d" % (prefix, b), "%s.%d" % (prefix, b + 1)])
        for region, prefix in (
            ("us-east", "192.0.2"),
            ("eu-west", "198.51.100"),
            ("ap-northeast", "203.0.113"),
        )
    ]


def cmd_scale_config(n, outdir, port):
    """N geo services in one zone (all on the `world` map of bench/meridian.yaml)."""
    import os

    with open(os.path.join(outdir, "scale.yaml"), "w") as f:
        f.write(
            """# generated by bench/benchtool.py scale-config %d
dns:
  listen: ["127.0.0.1:%d"]
geoip:
  database: bench.mmdb
regions:
  us-east:      { location: [39.04, -77.49] }
  eu-west:      { location: [53.35, -6.26] }
  ap-northeast: { location: [35.68, 139.69] }
geo_maps:
  world:
    nets:
      "10.0.0.0/8": [eu-west, us-east]
    countries:
      US-CA: [ap-northeast, us-east]
      JP: [ap-northeast, us-east]
    continents:
      NA: [us-east, eu-west]
      EU: [eu-west, us-east]
      AS: [ap-northeast, eu-west]
      OC: [ap-northeast, us-east]
    default: nearest
zones:
  - origin: gslb.example.
    file: gslb.example.zone
    services:
"""
            % (n, port)
        )
        for i in range(n):
            pools = ", ".join(
                "%s: {endpoints: [%s]}" % (region, ", ".join(addrs))
                for region, addrs in scale_pools(i)
            )
            f.write(
                "      s%d: {ttl: 30, policy: geo, map: world, max_answers: 2, pools: {%s}}\n"
                % (i, pools)
            )


def cmd_gdnsd_scale_config(n, outdir, port):
    """scale-config's N services written the gdnsd way (bench/gdnsd/config's
    map; one geoip resource and one DYNA record per service)."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "gdnsd", "config")) as f:
        base = f.read()
    # The bench's config up to its resources, with the port and directory.
    head = base[: base.index("    resources => {")]
    head = head.replace("@PORT@", str(port)).replace("@DIR@", outdir)
    os.makedirs(os.path.join(outdir, "zones"), exist_ok=True)
    with open(os.path.join(outdir, "config"), "w") as f:
        f.write("# generated by bench/benchtool.py gdnsd-scale-config %d\n" % n)
        f.write(head)
        f.write("    resources => {\n")
        for i in range(n):
            dcmap = ", ".join(
                "%s => [ %s ]" % (region, ", ".join(addrs))
                for region, addrs in scale_pools(i)
            )
            f.write(
                "      s%d => { map => world, service_types => up, dcmap => { %s } }\n"
                % (i, dcmap)
            )
        f.write("    }\n  }\n}\n")
    with open(os.path.join(here, "gdnsd", "zones", "gslb.example")) as f:
        zone = f.read()
    with open(os.path.join(outdir, "zones", "gslb.example"), "w") as f:
        # Without the bench's own `www` resource, which this config lacks.
        f.write("".join(l for l in zone.splitlines(True) if "geoip!www" not in l))
        for i in range(n):
            f.write("s%d 30 IN DYNA geoip!s%d\n" % (i, i))


# --------------------------------------------------------------------------
# The report


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def median(xs):
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return float("nan")
    k = len(xs)
    return xs[k // 2] if k % 2 else (xs[k // 2 - 1] + xs[k // 2]) / 2


def read_results(path):
    runs, half, rss, servers = {}, {}, {}, []
    with open(path) as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            if c[0] == "run":
                runs.setdefault((c[1], c[2]), []).append(
                    dict(qps=fnum(c[4]), avg=fnum(c[5]), max=fnum(c[6]), sd=fnum(c[7]),
                         sent=int(c[8]), lost=int(c[9]), noerror=int(c[10]),
                         cpu=fnum(c[11]), codes=c[12], srv=fnum(c[13]), gen=fnum(c[14]),
                         other=fnum(c[15]))
                )
            elif c[0] == "half":
                half[(c[1], c[2])] = dict(
                    rate=int(c[3]), qps=fnum(c[4]), avg=fnum(c[5]), p50=fnum(c[6]),
                    p99=fnum(c[7]), p999=fnum(c[8]), max=fnum(c[9]), sent=int(c[10]),
                    lost=int(c[11]), timeouts=int(c[12]), noerror=int(c[13]),
                    other=fnum(c[14]),
                )
            elif c[0] == "rss":
                rss[c[1]] = int(c[2] or 0) / 1024.0
            elif c[0] == "server":
                servers.append((c[1], c[2], c[3]))
    return runs, half, rss, servers


def cmd_median_qps(path, server, mix):
    runs, _, _, _ = read_results(path)
    q = median([r["qps"] for r in runs.get((server, mix), [])])
    print(int(q) if q == q else 0)


MIXES = [("static", "static"), ("geo", "geo"), ("geo-ecs", "geo+ECS")]


def f(x, fmt):
    return "n/a" if x != x else fmt % x


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cmd_report(path, kv):
    import datetime
    import os

    opt = dict(a.split("=", 1) for a in kv)
    OTHER_LIMIT = float(opt.get("busy_limit", "0.15"))  # cores used by anything else
    runs, half, rss, servers = read_results(path)
    order = [s for s, _, _ in servers]
    status = {s: st for s, st, _ in servers}
    version = {s: v for s, _, v in servers}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = []
    w = out.append
    w("meridian side-by-side DNS benchmark, %s" % now)
    w("machine: %s, %d cores, Linux %s; load average before the runs: %s"
      % (cpu_model(), os.cpu_count() or 0, os.uname().release, opt.get("loadavg", "?")))
    w("!! the servers AND the load generator (dnsperf) share these %d cores: a server's QPS is" % (os.cpu_count() or 0))
    w("   what is left after dnsperf's own CPU, so a fast server is held back by dnsperf too")
    w("load: %s, UDP over loopback, dnsperf -c %s -T %s -q %s; per row %s x %s s after a %s s warm-up;"
      % (opt.get("dnsperf", "dnsperf"), opt["clients"], opt["threads"], opt["outstanding"],
         opt["runs"], opt["seconds"], opt["warmup"]))
    w("      QPS is the median run; runs disturbed by other processes (> %s cores) measured again: %s times"
      % (opt.get("busy_limit", "?"), opt.get("retries_used", "?")))
    w("servers: " + "; ".join("%s (%s)" % (version[s], status[s]) for s in order))
    w("geo database: one bench.mmdb built by `meridian geoip build` from a generated CSV of %s IPv4 + %s IPv6"
      % (opt["geo_nets"], opt["geo_nets6"]))
    w("      networks, read by meridian and gdnsd; map and answers equivalent (bench/gdnsd/config)")
    w("      check before measuring: %s" % opt.get("equivalence", "?"))
    w("mixes: static  = static.gslb.example A (zone data)")
    w("       geo     = www.gslb.example A, no EDNS: located by the source 127.0.0.1 (in the database: US, NA)")
    w("       geo+ECS = www.gslb.example A with EDNS Client Subnet from %s different client subnets" % opt["ecs_subnets"])
    w("")
    hdr = "%-9s %-8s %12s %15s %7s %8s %9s %14s %12s" % (
        "server", "mix", "QPS (median)", "QPS min-max", "avg ms", "p99 ms*", "CPU us/q",
        "cores s+g+o", "peak RSS MB")
    w(hdr)
    w("-" * len(hdr))
    notes = []
    noisy = []
    med = {}
    cpu = {}
    for s in order:
        for m, label in MIXES:
            rs = runs.get((s, m))
            if not rs:
                why = "n/a" if status.get(s) == "ok" else "not available (%s)" % status.get(s)
                w("%-9s %-8s %12s" % (s, label, why))
                continue
            q = median([r["qps"] for r in rs])
            med[(s, m)] = q
            # latency of the median run (the middle one by QPS)
            mid = sorted(rs, key=lambda r: r["qps"])[(len(rs) - 1) // 2]
            c = median([r["cpu"] for r in rs])
            cpu[(s, m)] = c
            h = half.get((s, m), {})
            flag = ""
            for r in rs:
                if r["sent"] and (r["lost"] > 0.001 * r["sent"] or r["noerror"] < 0.999 * (r["sent"] - r["lost"])):
                    flag = " !"
                    notes.append("%s %s: lost %d of %d, response codes %s" % (s, label, r["lost"], r["sent"], r["codes"]))
            # The median survives disturbed runs as long as they are fewer
            # than half (a disturbance only lowers QPS); flag it otherwise.
            disturbed = sum(1 for r in rs if r["other"] > OTHER_LIMIT)
            if disturbed > (len(rs) - 1) // 2:
                flag += " ~"
                noisy.append("%s %s (%d of %d runs)" % (s, label, disturbed, len(rs)))
            w("%-9s %-8s %12s %15s %7s %8s %9s %14s %12s%s" % (
                s, label, f(q, "%.0f"),
                "%.0f-%.0f" % (min(r["qps"] for r in rs), max(r["qps"] for r in rs)),
                f(mid["avg"], "%.3f"), f(h.get("p99", float("nan")), "%.3f"),
                f(c, "%.1f"),
                "%.2f+%.2f+%.2f" % (median([r["srv"] for r in rs]), median([r["gen"] for r in rs]),
                                    median([r["other"] for r in rs])),
                f(rss.get(s, float("nan")), "%.1f"), flag))
    w("")
    w("avg ms   : average latency of the median run at full load. Closed loop: dnsperf keeps up to")
    w("           -q %s queries in flight, so this is mostly queueing (about in-flight / QPS)." % opt["outstanding"])
    w("p99 ms*  : 99th percentile at a FIXED offered rate, half of meridian's median QPS for the mix,")
    w("           the same rate for every server (dnsperf -Q, per-query latencies from -v; table below)")
    w("CPU us/q : the server's CPU time (user + system, all threads, /proc/PID/stat) per query sent,")
    w("           median of the runs: the cost of an answer, less sensitive to sharing the cores")
    w("cores s+g+o: CPU used during the runs, in cores (of %d): the server + dnsperf + everything" % (os.cpu_count() or 0))
    w("           else (other processes, interrupts, time the hypervisor took), medians of the runs")
    w("peak RSS : VmHWM of the server process after all runs")
    for n in notes:
        w("! " + n)
    if noisy:
        w("~ other processes used more than %.2f cores during most runs of: %s;" % (OTHER_LIMIT, ", ".join(noisy)))
        w("  their medians are disturbed: run again on a quiet machine")
    w("")
    w("Ratios, meridian / other  (QPS > 1: meridian answers more; CPU/q < 1: meridian spends less per answer)")
    hdr = "%-8s %13s %12s %15s %14s" % ("mix", "QPS m/gdnsd", "QPS m/knot", "CPU/q m/gdnsd", "CPU/q m/knot")
    w(hdr)
    w("-" * len(hdr))
    for m, label in MIXES:
        def ratio(d, other):
            a, b = d.get(("meridian", m), float("nan")), d.get((other, m), float("nan"))
            return f(a / b if b == b and b else float("nan"), "%.2f")
        w("%-8s %13s %12s %15s %14s" % (label, ratio(med, "gdnsd"), ratio(med, "knot"),
                                       ratio(cpu, "gdnsd"), ratio(cpu, "knot")))
    w("")
    w("Latency at half meridian's maximum rate (dnsperf -Q RATE -v, %s s; timeouts count as slowest)" % opt["half_seconds"])
    hdr = "%-9s %-8s %8s %9s %7s %7s %7s %8s %7s %5s %6s" % (
        "server", "mix", "rate/s", "achieved", "avg ms", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "lost",
        "other")
    w(hdr)
    w("-" * len(hdr))
    for m, label in MIXES:
        for s in order:
            h = half.get((s, m))
            if not h:
                continue
            w("%-9s %-8s %8d %9.0f %7.3f %7.3f %7.3f %8.3f %7.3f %5d %6.2f%s" % (
                s, label, h["rate"], h["qps"], h["avg"], h["p50"], h["p99"], h["p999"], h["max"],
                h["lost"], h["other"], " ~" if h["other"] > OTHER_LIMIT else ""))
    goal = []
    for m, label in MIXES:
        h = half.get(("meridian", m))
        if h:
            goal.append("%s %.3f ms %s" % (label, h["p99"], "met" if h["p99"] < 1.0 else "NOT met"))
    w("")
    w("Goal (issue 6): meridian p99 < 1 ms at half its maximum rate: " + ("; ".join(goal) or "not measured"))
    print("\n".join(out))


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    c, a = argv[1], argv[2:]
    if c == "csv":
        gen_csv(int(a[0]), int(a[1]), a[2])
    elif c == "ecs-queries":
        cmd_ecs_queries(a[0], int(a[1]), a[2], *a[3:4])
    elif c == "wait":
        return cmd_wait(int(a[0]), a[1], float(a[2]))
    elif c == "port-free":
        return cmd_port_free(int(a[0]))
    elif c == "compare":
        return cmd_compare(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif c == "dnsperf-summary":
        cmd_dnsperf_summary(a[0])
    elif c == "latency":
        cmd_latency(a[0])
    elif c == "median-qps":
        cmd_median_qps(a[0], a[1], a[2])
    elif c == "report":
        cmd_report(a[0], a[1:])
    elif c == "logtime":
        return cmd_logtime(a[0], a[1], int(a[2]), int(a[3]) if len(a) > 3 else 1)
    elif c == "scale-config":
        cmd_scale_config(int(a[0]), a[1], int(a[2]))
    elif c == "gdnsd-scale-config":
        cmd_gdnsd_scale_config(int(a[0]), a[1], int(a[2]))
    else:
        die("unknown command %r\n%s" % (c, __doc__))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
