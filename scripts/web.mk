# JavaScript side: glue (www/), npm package (pkg/), Node + Chromium tests,
# demo server and browser benchmark. Included by the top-level Makefile.

CHROMIUM ?= /usr/bin/chromium
DEMO_MODELS ?= .cache/demo
PORT ?= 8080
NODE ?= node
# Stamp npm writes after a successful install; newer than the lock ⇒ up to date.
WEB_NPM_STAMP := node_modules/.package-lock.json

SETUP_TARGETS += setup-web
TEST_TARGETS += test-web test-consumers
BENCH_TARGETS += bench-web

.PHONY: setup-web pkg-web test-web test-web-node test-web-browser test-web-pkg test-consumers test-consumers-dev demo-web bench-web

# Idempotent: npm ci only when the lock changed, apt only when chromium is missing.
setup-web: $(WEB_NPM_STAMP)
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "setup-web: installing Debian chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

$(WEB_NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# The glue's source of truth is www/; the package gets verbatim copies of the
# modules and one self-contained worker script built by esbuild.
pkg-web: wasm $(WEB_NPM_STAMP)
	rm -rf pkg/lib pkg/worker.js
	mkdir -p pkg/lib
	cp www/vitrine.js www/shopper.js www/placements.js www/shards.js pkg/
	cp www/lib/*.js pkg/lib/
	$(NODE) scripts/build-pkg.mjs

test-web: setup-web wasm cli pkg-web
	$(NODE) --test --test-concurrency=1 tests/node/ tests/browser/ tests/pkg/

test-web-node: setup-web wasm cli pkg-web
	$(NODE) --test tests/node/

test-web-browser: setup-web wasm cli pkg-web
	$(NODE) --test tests/browser/

test-web-pkg: setup-web wasm pkg-web
	$(NODE) --test tests/pkg/

# The package in real consumers (tests/consumers/: Vite, webpack, Rollup, Parcel, Rspack, Bun,
# esbuild, Next.js, Angular CLI, Rsbuild, Node ESM/CJS), each installed from its own lock file
# (node_modules kept per fixture, reinstalled only when the lock changes).
# CONSUMERS=vite,next runs a subset. tests/consumers/dev.test.mjs runs the same fixtures in
# their dev servers (vite with and without pre-bundling, next dev with Turbopack and with --webpack,
# webpack serve, rspack serve, esbuild --serve, parcel serve, ng serve, rsbuild dev); DEV_SERVERS=vite,next picks some of
# them (all by default), DEV_SERVERS=none skips them.
test-consumers: setup-web wasm cli pkg-web
	VITRINE_CONSUMERS=$(CONSUMERS) VITRINE_DEV_SERVERS=$(DEV_SERVERS) $(NODE) --test --test-concurrency=1 tests/consumers/

# Only the dev-server runner (part of test-consumers; this target is for iterating on it).
test-consumers-dev: setup-web wasm cli pkg-web
	VITRINE_CONSUMERS=$(CONSUMERS) VITRINE_DEV_SERVERS=$(DEV_SERVERS) $(NODE) --test tests/consumers/dev.test.mjs

demo-web: pkg-web
	$(NODE) scripts/serve.mjs --host 127.0.0.1 --port $(PORT) --models $(DEMO_MODELS)

bench-web: setup-web wasm cli pkg-web
	$(NODE) tests/bench/run.mjs
