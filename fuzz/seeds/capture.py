#!/usr/bin/env python3
"""Record the exact bytes dig and kdig send, as the seed corpus of the
`packet` fuzz target.

A UDP and a TCP listener on 127.0.0.1 (a free port) store every query they
receive; each client run is answered with nothing (UDP) or a closed
connection (TCP), so the clients time out quickly (+tries=1 +time=1).
Usage: fuzz/seeds/capture.py OUT_DIR   (writes OUT_DIR/<name>.bin)
"""
import hashlib
import os
import socket
import subprocess
import sys
import threading

out_dir = sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/packet"
os.makedirs(out_dir, exist_ok=True)

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
port = udp.getsockname()[1]
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
tcp.listen(16)

captured = []
lock = threading.Lock()


def udp_loop():
    while True:
        data, _ = udp.recvfrom(65535)
        with lock:
            captured.append(data)


def tcp_loop():
    while True:
        conn, _ = tcp.accept()
        conn.settimeout(2)
        try:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) == 2:
                n = int.from_bytes(head, "big")
                body = conn.recv(n, socket.MSG_WAITALL)
                with lock:
                    captured.append(body)
        except OSError:
            pass
        conn.close()


threading.Thread(target=udp_loop, daemon=True).start()
threading.Thread(target=tcp_loop, daemon=True).start()

DIG = ["dig", "@127.0.0.1", "-p", str(port), "+tries=1", "+time=1", "+retry=0"]
KDIG = ["kdig", "@127.0.0.1", "-p", str(port), "+retry=0", "+time=1"]
RUNS = {
    "a": DIG + ["www.gslb.example", "A"],
    "aaaa": DIG + ["www.gslb.example", "AAAA"],
    "any": DIG + ["gslb.example", "ANY"],
    "soa_noedns": DIG + ["+noedns", "gslb.example", "SOA"],
    "ns": DIG + ["gslb.example", "NS"],
    "txt_static": DIG + ["static.gslb.example", "TXT"],
    "cname_alias": DIG + ["alias.gslb.example", "A"],
    "wildcard": DIG + ["x.wild.gslb.example", "A"],
    "referral": DIG + ["host.lab.gslb.example", "A"],
    "nxdomain": DIG + ["nope.gslb.example", "A"],
    "refused_zone": DIG + ["example.com", "A"],
    "mixed_case": DIG + ["WwW.GsLb.ExAmPlE", "A"],
    "subnet_v4": DIG + ["www.gslb.example", "A", "+subnet=203.0.113.0/24"],
    "subnet_v6": DIG + ["www.gslb.example", "AAAA", "+subnet=2001:db8:1::/48"],
    "subnet_zero": DIG + ["www.gslb.example", "A", "+subnet=0.0.0.0/0"],
    "edns1": DIG + ["+edns=1", "+noednsneg", "www.gslb.example", "A"],
    "nsid": DIG + ["+nsid", "gslb.example", "SOA"],
    "dnssec": DIG + ["+dnssec", "www.gslb.example", "A"],
    "cookie": DIG + ["+cookie", "api.gslb.example", "A"],
    "bufsize_4096": DIG + ["+bufsize=4096", "split.gslb.example", "A"],
    "ednsopt_unknown": DIG + ["+ednsopt=65001:beef", "www.gslb.example", "A"],
    "ednsflags": DIG + ["+ednsflags=0x7f", "www.gslb.example", "A"],
    "type65535": DIG + ["www.gslb.example", "TYPE65535"],
    "class_chaos": DIG + ["version.bind", "TXT", "CH"],
    "opcode_notify": DIG + ["+opcode=notify", "gslb.example", "SOA"],
    "axfr_tcp": DIG + ["gslb.example", "AXFR"],
    "ixfr_tcp": DIG + ["gslb.example", "IXFR=1"],
    "tcp_a": DIG + ["+tcp", "www.gslb.example", "A"],
    "kdig_a": KDIG + ["www.gslb.example", "A"],
    "kdig_subnet_nsid": KDIG + ["+subnet=198.51.100.0/24", "+nsid", "www.gslb.example", "A"],
    "kdig_padding": KDIG + ["+padding=64", "www.gslb.example", "AAAA"],
}

for name, cmd in RUNS.items():
    with lock:
        before = len(captured)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
    with lock:
        got = captured[before:]
    if not got:
        print(f"{name}: nothing captured", file=sys.stderr)
        continue
    data = got[0]
    with open(os.path.join(out_dir, f"{name}.bin"), "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes {hashlib.sha1(data).hexdigest()[:8]}")
