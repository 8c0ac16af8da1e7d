# OWSO Pay: the two commands are `make run` and `make test` (see README.md, "Running").
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

CARGO ?= cargo
# Where scripts/browser-up.sh puts axe-core (npm prefix target/web-tools).
AXE_CORE_JS := $(CURDIR)/target/web-tools/node_modules/axe-core/axe.min.js

.PHONY: help build run test demo-data bench bench-books bench-console bench-khqr bench-ledger bench-recon bench-throughput bench-web drill screenshots fmt lint clean sqlx-prepare

help: ## list the targets
	@echo "OWSO Pay — make targets:"
	grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-16s %s\n", $$1, $$2 }'

build: ## build every binary (debug, target/debug; shared by run and test)
	$(CARGO) build --workspace --bins

run: ## PostgreSQL, migrate, demo seed, bank-sim + service in sandbox mode; prints URLs, keys, a curl walk-through
	@scripts/run.sh

test: ## fmt check, clippy, build, then all tests (unit + e2e) against a local PostgreSQL
	@SECONDS=0
	trap 'rc=$$?; printf "make test: %s, wall time %dm%02ds\n" "$$( ((rc)) && echo FAILED || echo passed )" $$((SECONDS / 60)) $$((SECONDS % 60)) >&2' EXIT
	step() { printf '==> %s\n' "$$*" >&2; "$$@"; }
	$(CARGO) fmt --version >/dev/null 2>&1 || step rustup component add rustfmt
	$(CARGO) clippy --version >/dev/null 2>&1 || step rustup component add clippy
	DATABASE_URL=$$(scripts/pg-up.sh)
	export DATABASE_URL
	# The browser tests drive Debian's chromium through chromedriver and inject axe-core;
	# browser-up.sh finds or installs all three. Without them those tests fail under CI and are
	# skipped, loudly, elsewhere (tests/tests/support/browser.rs).
	if CHROMEDRIVER=$$(scripts/browser-up.sh); then
		export CHROMEDRIVER AXE_CORE_JS="$(AXE_CORE_JS)"
	else
		printf '==> WARNING: scripts/browser-up.sh failed: the browser tests will %s\n' "$$( [[ -n $${CI:-} ]] && echo FAIL || echo be SKIPPED )" >&2
	fi
	step $(CARGO) fmt --all -- --check
	step $(CARGO) clippy --workspace --all-targets -- -D warnings
	# All targets, not only the binaries: the tests' dev-dependencies change the features of
	# shared crates, so a --bins build would be compiled a second time by `cargo test` (2.5 min
	# of a cold run on 2 cores); this way the test step only links and runs.
	step $(CARGO) build --workspace --all-targets
	# The query cache .sqlx/ must match what the migrations make of every query (builds read
	# it offline, so a stale cache would otherwise go unnoticed until a column is renamed).
	step scripts/sqlx-data.sh check
	# A snapshot that differs fails (never rewritten here, whatever the shell says); review one
	# with `cargo insta review` or rerun with INSTA_UPDATE=always outside make test.
	export INSTA_UPDATE=no INSTA_FORCE_PASS=0
	step $(CARGO) test --workspace

screenshots: ## PNGs of every citizen page (Khmer, English; 360 and 1280 px) and the staff console (1280 px) into docs/screens/ (or $OWSO_SCREENSHOTS)
	@DATABASE_URL=$$(scripts/pg-up.sh)
	CHROMEDRIVER=$$(scripts/browser-up.sh)
	export DATABASE_URL CHROMEDRIVER AXE_CORE_JS="$(AXE_CORE_JS)"
	$(CARGO) build --workspace --bins
	$(CARGO) test -p e2e --test e2e -- --ignored --exact browser_pay::screenshots --nocapture

bench-web: ## Lighthouse (mobile, pinned) on the pay page, status, a catalog page and the dashboard (/console/reports): scores and bytes; prints, never asserts
	@DATABASE_URL=$$(scripts/pg-up.sh)
	CHROMEDRIVER=$$(scripts/browser-up.sh)
	export DATABASE_URL CHROMEDRIVER
	$(CARGO) build --workspace --bins
	$(CARGO) test -p e2e --test e2e -- --ignored --exact browser_pay::lighthouse_scores --nocapture

drill: ## crash drill (issue 11): 3 instances behind a balancer, DRILL_PAYMENTS (1500) payments, 2 kill -9 and a PostgreSQL crash; prints DRILL {json}
	@DATABASE_URL=$$(scripts/pg-up.sh)
	# pg-up.sh installs PostgreSQL if missing; the drill runs a private cluster from its binaries
	# (tests/tests/support/mod.rs, PrivateCluster) and never restarts the one found here.
	export DATABASE_URL
	$(CARGO) build --workspace --bins
	$(CARGO) test -p e2e --test e2e -- --ignored --exact crash_drill::three_instances_two_kills_and_a_postgres_crash_lose_and_double_nothing --nocapture

sqlx-prepare: ## rewrite the query cache .sqlx/ after changing a query (needs PostgreSQL; see scripts/sqlx-data.sh)
	@scripts/sqlx-data.sh prepare

bench: ## all benchmarks: KHQR vs the official JS SDK; the ledger at 1,000,000 postings; write throughput vs pgbench; console pages at 2 M intents; matching 1,000,000 statement lines; books and dashboard at 4 M intents
	@scripts/bench.sh
	@scripts/bench-ledger.sh
	@scripts/bench-throughput.sh
	@scripts/bench-console.sh
	@scripts/bench-recon.sh
	@scripts/bench-books.sh

demo-data: ## database DEMO_DB (default owso_demo_data): 204 offices, 2 years, ~4 M intents and ~10 M postings, sealed, rolled up, verified
	@scripts/demo-data.sh

bench-books: ## trial balance, reports and the dashboard's server time on the demo-data database (made if missing) against the 300 ms budget
	@scripts/bench-books.sh

bench-console: ## console pages' server time at the seed's scale (204 offices, 2 M intents) against the 300 ms budget
	@scripts/bench-console.sh

bench-khqr: ## KHQR encode+decode throughput, ours vs the official JS SDK (npm, into target/bench-node)
	@scripts/bench.sh

bench-ledger: ## ledger: 1M postings, trial balance time, posting rate (1 vs 204 offices), sealing, verify
	@scripts/bench-ledger.sh

bench-recon: ## reconciliation matching: a busy office's month (30,000 lines) and all 204 offices' (1,000,000), time and peak memory
	@scripts/bench-recon.sh

bench-throughput: ## pgbench tpcb-like vs ledger group commit (1 and 204 offices) vs sandbox callbacks over HTTP
	@scripts/bench-throughput.sh

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## fmt check and clippy (no database needed)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean: ## remove build output, e2e logs and make-run logs
	$(CARGO) clean
	rm -rf .run
