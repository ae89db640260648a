# netns-agent: `make run` builds and starts the agent; `make test` runs every test tier; `make bench`
# runs the benchmarks. Each installs what it needs when it is missing (Debian, as root).
SHELL := /bin/bash
NODE_INCLUDE := $(shell node -p "require('path').resolve(process.execPath, '../../include/node')")
NATIVE := build/netns_native.node
TEST_TIERS ?= unit kernel etcd docker e2e fault browser

.PHONY: all build run test bench lint format deps clean test-unit test-kernel

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

$(NATIVE): native/netns_native.c
	@mkdir -p build
	cc -O2 -Wall -Wextra -shared -fPIC -I$(NODE_INCLUDE) -o $@ $<

dist/.built: node_modules/.package-lock.json $(shell find src test bench -name '*.ts' 2>/dev/null) tsconfig.json
	npx tsc -p tsconfig.json
	@touch $@

# bin/netns-agent and bin/netnsctl run from one-file bundles of dist/src (src/cli/run-bundle.ts).
dist/bundle/.built: dist/.built scripts/bundle.mjs
	node scripts/bundle.mjs
	@touch $@

# The topology page (src/web/README.md): browser code compiled by its own tsconfig, with its static files.
dist/web/.built: node_modules/.package-lock.json $(shell find src/web -type f 2>/dev/null)
	npx tsc -p src/web/tsconfig.json
	cp src/web/static/* dist/web/
	@touch $@

build: deps $(NATIVE) dist/.built dist/bundle/.built dist/web/.built

# System packages the agent itself needs: a C compiler for the native part, iproute2 only as a test oracle.
deps:
	@scripts/ensure-packages.sh gcc:gcc ip:iproute2

run: build
	bin/netns-agent $(ARGS)

lint: build
	npx eslint src test bench
	npx prettier --check src test bench

format:
	npx prettier --write src test bench

test: build
	scripts/test.sh $(TEST_TIERS)

bench: build
	scripts/bench.sh

clean:
	rm -rf dist build
