# teal: build, run and test.
GO ?= go
BIN := bin/teal
TEST_FLAGS ?= -count=1 -timeout 25m

.PHONY: all build engines run test test-tools unit vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/teal

# Installs every database engine build teal uses; quiet when nothing is missing.
engines:
	@bash scripts/install-engines.sh

# Installs what is missing and runs teal serve on the embedded defaults.
run: engines build
	./$(BIN) serve

# The engines and the browsers the tests drive.
test-tools:
	@bash scripts/install-engines.sh --test-tools

# The whole test suite, with real database servers and real browsers.
test: test-tools vet
	$(GO) test $(TEST_FLAGS) ./...

# Fast tests only: no database servers (tests that start one skip under -short).
unit:
	$(GO) test -count=1 -short ./internal/...

vet:
	@test -z "$$(gofmt -l cmd internal test)" || { echo "gofmt needed:"; gofmt -l cmd internal test; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf bin
