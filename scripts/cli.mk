# CLI input checks, dependency policy and generated README figures.
# Included by the top-level Makefile (CARGO).
#
#   make test-cli-input      tests/cli_input.rs: bad options, bounded inputs, malformed logs
#   make deny-tool           cargo-deny, pinned, into ~/.cache/vitrine-tools (kept across clones, like wasm-bindgen-cli)
#   make deny                cargo deny check (scripts/deny.sh; advisories only with a local DB copy)
#   make readme-numbers      README "Numbers" tables from docs/numbers/*.json (fresh target/ JSON copied first)
#   make test-readme-numbers every README figure has a source in docs/numbers/ (in `make test`)

CARGO_DENY_VERSION := 0.20.2
# Outside the work tree: building it takes minutes, and a fresh clone (CI)
# on the same machine should not pay that again.
VITRINE_TOOLS ?= $(HOME)/.cache/vitrine-tools
CARGO_DENY := $(VITRINE_TOOLS)/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny
NODE ?= node

TEST_TARGETS += test-cli-input test-readme-numbers
.PHONY: test-cli-input deny-tool deny readme-numbers test-readme-numbers

test-cli-input:
	$(CARGO) test --release --quiet --test cli_input

deny-tool: $(CARGO_DENY)

$(CARGO_DENY):
	$(CARGO) install --locked --quiet cargo-deny@$(CARGO_DENY_VERSION) \
	  --root $(VITRINE_TOOLS)/cargo-deny-$(CARGO_DENY_VERSION)

deny: $(CARGO_DENY)
	CARGO_DENY=$(CARGO_DENY) scripts/deny.sh

readme-numbers:
	$(NODE) scripts/readme-numbers.mjs --update

test-readme-numbers:
	$(NODE) scripts/readme-numbers.mjs --self-test
