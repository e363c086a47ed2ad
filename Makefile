# meridian: the two commands a newcomer needs are `make run` and `make test`.
# Each installs what it needs on a Debian/Ubuntu machine when it is missing.

CARGO   ?= cargo
BIN     := target/release/meridian
CONFIG  ?= zones/demo.yaml
GEO_DB  := geoip/demo.mmdb
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test check build deps-build deps-run deps-test deps-deb deb package-test fmt clippy unit bench cluster-demo fuzz soak

## run: build and serve the demo (DNS on 127.0.0.1:5300, admin on 127.0.0.1:8053)
run: deps-run build $(GEO_DB)
	mkdir -p var
	$(BIN) run -c $(CONFIG)

## test: everything CI runs: formatting, lints, unit and integration tests,
## and the Debian package installed with dpkg (tests/package.sh, needs root
## or sudo)
test: deps-test deps-deb fmt clippy
	$(CARGO) test --locked
	bash tests/package.sh

## package-test: only the package test (after `cargo test` built the binary)
package-test: deps-test deps-deb
	bash tests/package.sh

## check: validate the demo configuration, its zone files and database
check: build $(GEO_DB)
	$(BIN) check -c $(CONFIG)

build: deps-build
	$(CARGO) build --release --locked

$(GEO_DB): geoip/demo.csv | build
	$(BIN) geoip build geoip/demo.csv -o $(GEO_DB)

# cargo-deb builds the package; pinned so `make deb` gives the same layout
# everywhere.
CARGO_DEB_VERSION := 3.8.0

deps-deb:
	@$(CARGO) deb --version >/dev/null 2>&1 || $(CARGO) install cargo-deb --version $(CARGO_DEB_VERSION) --locked

## deb: the Debian package (target/debian/meridian_*.deb): the release binary
## in /usr/sbin, a systemd unit, /etc/meridian/ example, man pages, completions
deb: build $(GEO_DB) deps-deb
	$(BIN) dist -o target/dist
	$(CARGO) deb --no-build

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets --locked -- -D warnings

# Tools the tests drive: dig (bind9-dnsutils), kdig (knot-dnsutils),
# knotd (knot: the oracle of tests/knot_oracle.rs), mmdblookup (mmdb-bin),
# dnsperf, curl for the admin API, chromium for the status page,
# systemd-analyze (systemd) for the package's unit, and pip3 (python3-pip)
# to install grpcio-health-checking, the gRPC health server of
# tests/health_grpc.rs (deps-test); promtool (prometheus) lints /metrics
# and the Grafana dashboard's queries (tests/ops_metrics.rs).
# tests/dnssec.rs uses BIND's dnssec-keygen and dnssec-dsfromkey
# (bind9-utils) as oracles, and delv (bind9-dnsutils), unbound and
# dnsviz (probe and grok) as validators.
# prometheus and prometheus-alertmanager run in tests/health_prometheus.rs
# and tests/alerts.rs.
# The build needs protoc (protobuf-compiler) for etcd-client's protos; the
# cluster tests start a real etcd (etcd-server).
BUILD_TOOLS := protoc:protobuf-compiler
TEST_TOOLS := dig:bind9-dnsutils kdig:knot-dnsutils knotd:knot mmdblookup:mmdb-bin \
              dnsperf:dnsperf curl:curl chromium:chromium etcd:etcd-server \
              etcdctl:etcd-client \
              systemd-analyze:systemd pip3:python3-pip promtool:prometheus \
              dnssec-keygen:bind9-utils unbound:unbound dnsviz:dnsviz \
              prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager \
              $(BUILD_TOOLS)
RUN_TOOLS  := dig:bind9-dnsutils curl:curl $(BUILD_TOOLS)

define install_missing
	@missing=""; for pair in $(1); do \
	  cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps-build:
	$(call install_missing,$(BUILD_TOOLS))

deps-run:
	$(call install_missing,$(RUN_TOOLS))

deps-test:
	$(call install_missing,$(TEST_TOOLS))
	@python3 -c 'import grpc_health.v1.health' 2>/dev/null || \
	  $(SUDO) python3 -m pip install -q --break-system-packages grpcio-health-checking
	@python3 -c 'import openapi_spec_validator, openapi_schema_validator' 2>/dev/null || \
	  $(SUDO) python3 -m pip install -q --break-system-packages openapi-spec-validator

## bench: meridian vs gdnsd vs Knot DNS on loopback (dnsperf), prints the
## comparison table; then the DNSSEC mixes (static, 1,024-subnet ECS and
## nonexistent names, each with and without DO: bench/dnssec.sh); about 10
## minutes. Settings: BENCH_* in bench/run.sh and bench/dnssec.sh,
## docs/performance.md.
bench:
	bash bench/run.sh
	bash bench/dnssec.sh

## cluster-demo: etcd and three meridian instances on loopback; drains a
## region on ns1 and shows ns2 and ns3 answering from the next one, then a
## rolling deploy of registry endpoints with drain reports.
cluster-demo: deps-run build
	$(call install_missing,etcd:etcd-server etcdctl:etcd-client)
	bash bench/cluster-demo.sh

FUZZ_SECONDS ?= 60
## fuzz: run each fuzz target for FUZZ_SECONDS (default 60) with AddressSanitizer
## (FUZZ_SANITIZER=none to skip it); what a run finds is merged into the
## committed corpus fuzz/corpus/ (FUZZ_KEEP=0 to skip); non-zero exit on a crash
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

## soak: dnsperf at a steady rate for SOAK_MINUTES (default 3) while backends flap,
## weights flip and reloads run; answered %, SERVFAILs, p99, RSS start/end
soak: deps-test build
	SOAK_BIN=$(BIN) bash bench/soak.sh
