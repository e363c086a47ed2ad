#!/usr/bin/env bash
# The Debian package, installed for real (issue 18): build it with cargo-deb
# from the debug binary `cargo test` just built, `dpkg -i` it, check what it
# put where, `systemd-analyze verify` its unit, start the installed
# /usr/sbin/meridian by hand with the installed example configuration (PID 1
# is not systemd in CI containers, so `systemctl start` cannot work), query
# it with dig, drive it with `meridian ctl`, and purge the package.
#
# Needs root (dpkg), via sudo when not root. Called by `make test`; about
# 20 seconds once the binary is built. It refuses to run where a meridian
# package is already installed (it would replace it) unless
# MERIDIAN_PACKAGE_TEST=force.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
BIN=target/debug/meridian
OUT=target/package-test
DEB_DIR=$OUT/deb
CONFIG=/etc/meridian/meridian.yaml
pid=""

fail() { echo "package test: FAIL: $*" >&2; exit 1; }
step() { echo "package test: $*"; }

if dpkg-query -W -f='${Status}' meridian 2>/dev/null | grep -q "install ok installed" \
    && [ "${MERIDIAN_PACKAGE_TEST:-}" != force ]; then
    fail "a meridian package is installed on this machine; this test would replace and purge it (MERIDIAN_PACKAGE_TEST=force to let it)"
fi

cleanup() {
    if [ -n "$pid" ]; then
        $SUDO kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    $SUDO dpkg --purge meridian >/dev/null 2>&1 || true
}
trap cleanup EXIT

[ -x "$BIN" ] || cargo build --locked
cargo deb --version >/dev/null 2>&1 || fail "cargo-deb is not installed (make deps-deb)"

step "building the package"
rm -rf "$OUT"
mkdir -p "$DEB_DIR"
"$BIN" dist -o target/dist >/dev/null
[ -f geoip/demo.mmdb ] || "$BIN" geoip build geoip/demo.csv -o geoip/demo.mmdb >/dev/null
# The dev profile packs the debug binary `cargo test` built, so CI does
# not pay for a release build; `make deb` packs the release one.
cargo deb --no-build --profile dev --fast --no-dbgsym --quiet -o "$DEB_DIR/" >/dev/null
deb=$(ls "$DEB_DIR"/meridian_*.deb)

step "installing $deb"
$SUDO dpkg -i "$deb" >/dev/null

step "checking what it installed"
[ -x /usr/sbin/meridian ] || fail "/usr/sbin/meridian missing"
getent passwd meridian >/dev/null || fail "postinst did not create the meridian user"
for f in /etc/meridian/meridian.yaml /etc/meridian/gslb.example.zone /etc/default/meridian \
    /usr/share/meridian/demo.mmdb /usr/lib/systemd/system/meridian.service \
    /usr/share/man/man8/meridian.8.gz /usr/share/man/man8/meridian-ctl.8.gz \
    /usr/share/man/man5/meridian.yaml.5.gz \
    /usr/share/bash-completion/completions/meridian \
    /usr/share/zsh/vendor-completions/_meridian \
    /usr/share/fish/vendor_completions.d/meridian.fish; do
    [ -f "$f" ] || fail "$f missing"
done
zcat /usr/share/man/man8/meridian-ctl.8.gz | grep -q "drain" || fail "meridian-ctl.8 does not document drain"
zcat /usr/share/man/man5/meridian.yaml.5.gz | grep -q "state_file" || fail "meridian.yaml.5 does not document state_file"
grep -q "ctl" /usr/share/bash-completion/completions/meridian || fail "bash completion lacks ctl"
dpkg-query -L meridian | grep -qx /etc/meridian/meridian.yaml || fail "config not in the package's files"
grep -qx /etc/meridian/meridian.yaml /var/lib/dpkg/info/meridian.conffiles || fail "config is not a conffile"
[ "$(stat -c '%U:%G %a' /etc/meridian/admin.token)" = "root:meridian 640" ] \
    || fail "admin.token: $(stat -c '%U:%G %a' /etc/meridian/admin.token), want root:meridian 640"
[ "$(stat -c '%U:%G %a' /var/lib/meridian)" = "meridian:meridian 750" ] \
    || fail "/var/lib/meridian: $(stat -c '%U:%G %a' /var/lib/meridian)"
version=$(/usr/sbin/meridian --version)
echo "$version" | grep -Eq '^meridian [0-9.]+ \(commit [0-9a-f]{7,}|unknown\)' \
    || fail "--version: $version"

step "systemd-analyze verify and security on the installed unit"
man_check=""
command -v man >/dev/null || man_check="--man=no"   # no man-db: files checked above
# verify exits 0 on directives it ignores ("Failed to parse ..., ignoring"):
# any line about the unit fails the test too.
verify=$(systemd-analyze verify $man_check /usr/lib/systemd/system/meridian.service 2>&1) \
    || fail "systemd-analyze verify: $verify"
if echo "$verify" | grep -q "meridian.service"; then
    fail "systemd-analyze verify: $verify"
fi
exposure=$(systemd-analyze security --offline=true /usr/lib/systemd/system/meridian.service 2>&1 \
    | sed -n 's/.*Overall exposure level for meridian.service: \([0-9.]*\).*/\1/p')
step "systemd-analyze security: exposure $exposure (0 best, 10 worst)"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || fail "exposure ${exposure:-?} above 2.0"

init=$(ps -p 1 -o comm= || echo unknown)
if [ "$init" != systemd ]; then
    step "PID 1 is '$init', not systemd: starting /usr/sbin/meridian by hand as the unit would (user meridian, CAP_NET_BIND_SERVICE only)"
fi
as_service=($SUDO setpriv --reuid=meridian --regid=meridian --init-groups
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
    --bounding-set=-all,+net_bind_service)
# ExecStartPre, with the bind check on top.
"${as_service[@]}" /usr/sbin/meridian check -c "$CONFIG" --bind-check \
    || fail "the installed example configuration fails check"
"${as_service[@]}" /usr/sbin/meridian run -c "$CONFIG" >"$OUT/meridian.log" 2>&1 &
pid=$!

answer() { dig @127.0.0.1 -p 53 +time=1 +tries=1 +short "$@" 2>/dev/null | sort | tr '\n' ' '; }
deadline=$((SECONDS + 20))
until [ -n "$(answer www.gslb.example A)" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$OUT/meridian.log" >&2; fail "meridian exited"; }
    [ $SECONDS -lt $deadline ] || { cat "$OUT/meridian.log" >&2; fail "no answer on 127.0.0.1:53 within 20s"; }
    sleep 0.2
done
eu=$(answer www.gslb.example A +subnet=81.2.69.0/24)
[ "$eu" = "198.51.100.10 198.51.100.11 " ] || fail "EU client got '$eu', want eu-west"
soa=$(answer gslb.example SOA)
[ -n "$soa" ] || fail "no SOA from the example zone"
step "answers on 127.0.0.1:53: EU client -> $eu"

step "meridian ctl against the installed service"
ctl() { $SUDO /usr/sbin/meridian ctl --token-file /etc/meridian/admin.token "$@"; }
ctl status | grep -q "^ready *yes" || fail "ctl status not ready"
set +e
/usr/sbin/meridian ctl drain eu-west >/dev/null 2>"$OUT/ctl.err"; code=$?
set -e
[ $code = 1 ] || fail "ctl drain without the token: exit $code, want 1"
grep -q "401" "$OUT/ctl.err" || fail "ctl without token: $(cat "$OUT/ctl.err")"
ctl drain eu-west --for 10m | grep -q "forced down until" || fail "ctl drain"
eu=$(answer www.gslb.example A +subnet=81.2.69.0/24)
[ "$eu" = "192.0.2.10 192.0.2.11 " ] || fail "drained EU client got '$eu', want us-east"
$SUDO grep -q '"eu-west"' /var/lib/meridian/state.json || fail "drain not in /var/lib/meridian/state.json"
[ "$(stat -c %U /var/lib/meridian/state.json)" = meridian ] || fail "state.json not owned by meridian"
ctl undrain eu-west >/dev/null
eu=$(answer www.gslb.example A +subnet=81.2.69.0/24)
[ "$eu" = "198.51.100.10 198.51.100.11 " ] || fail "undrained EU client got '$eu'"

step "stopping, purging"
$SUDO kill "$pid"
wait "$pid" 2>/dev/null || true
pid=""
$SUDO dpkg --purge meridian >/dev/null
[ ! -e /usr/sbin/meridian ] || fail "/usr/sbin/meridian left after purge"
[ ! -e /var/lib/meridian ] || fail "/var/lib/meridian left after purge"
[ ! -e /etc/meridian/admin.token ] || fail "admin.token left after purge"
step "ok"
