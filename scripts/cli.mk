# The CLI's input checks (tests/cli_input.rs): bad options, bounded inputs,
# mostly-malformed logs. No data needed. Lint and dependency policy
# (`cargo deny`) run from .ci/run before `make test`.

TEST_TARGETS += test-cli-input
.PHONY: test-cli-input

test-cli-input:
	$(CARGO) test --release --quiet --test cli_input
