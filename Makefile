# taxieta: the everyday commands. `make test` is what CI runs (.ci/run).
DATA_DIR ?= ../shared/data
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/taxieta/taxieta/internal/buildinfo.version=$(VERSION)
# The default model's recipe: fixed months and a fixed creation time, so the
# same data always gives the same bytes.
DEFAULT_MODEL := internal/defaultmodel/taxi-duration.taxieta
DEFAULT_MODEL_EPOCH := 1700000000

.PHONY: build run test unit lint vulncheck fuzz bench profile default-model check-default-model generate

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/taxieta ./cmd/taxieta

run:
	$(GO) run ./cmd/taxieta serve

# Everything: installs what the tests need, starts the servers they use, runs all tests.
test:
	./scripts/test.sh

unit:
	TAXIETA_DATA_DIR=$(abspath $(DATA_DIR)) $(GO) test -race ./...

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...
	$(GO) vet -tags nonatsserver ./internal/stream ./cmd/taxieta
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) mod tidy -diff

# Known vulnerabilities the code can reach, checked offline (see the script).
vulncheck:
	./scripts/vulncheck.sh

fuzz:
	$(GO) test ./internal/model -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./internal/tripjson -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./internal/tripjson -run '^$$' -fuzz FuzzAppendString -fuzztime 30s
	$(GO) test ./internal/stream -run '^$$' -fuzz FuzzDecode -fuzztime 30s -fuzzminimizetime 5s
	$(GO) test ./internal/batch -run '^$$' -fuzz FuzzDecodeLine -fuzztime 30s
	$(GO) test ./internal/httpapi -run '^$$' -fuzz FuzzDecodeTrip -fuzztime 30s
	$(GO) test ./internal/httpapi -run '^$$' -fuzz FuzzPredictHandler -fuzztime 30s
	$(GO) test ./internal/mlflowserve -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s
	$(GO) test ./internal/oip -run '^$$' -fuzz FuzzDecodeInfer -fuzztime 30s
	$(GO) test ./internal/oip -run '^$$' -fuzz FuzzDecodeGRPC -fuzztime 30s

bench:
	./scripts/bench.sh

# CPU and allocation profiles of serve under load (pprof, via --debug-addr).
profile:
	./scripts/profile.sh

default-model:
	SOURCE_DATE_EPOCH=$(DEFAULT_MODEL_EPOCH) $(GO) run ./cmd/taxieta train --data-dir $(DATA_DIR) \
		--train green:2023-01..2023-04 --valid green:2024-03 --out $(DEFAULT_MODEL)

# Fails when regenerating the default model would change a byte.
check-default-model:
	SOURCE_DATE_EPOCH=$(DEFAULT_MODEL_EPOCH) $(GO) run ./cmd/taxieta train --data-dir $(DATA_DIR) \
		--train green:2023-01..2023-04 --valid green:2024-03 --out /tmp/taxieta-default-check.taxieta >/dev/null
	cmp /tmp/taxieta-default-check.taxieta $(DEFAULT_MODEL)

# The ONNX protobuf types in internal/onnx/onnxpb, from onnx.proto as vendored
# there (ONNX v1.22.0), with protoc (Debian: apt-get install protobuf-compiler)
# and this pinned protoc-gen-go, installed into .cache/bin.
PROTOC_GEN_GO_VERSION := v1.36.12
# The OIP v2 gRPC service in internal/oip/oippb, from the specification's proto
# (vendored there, commit in its header), with this pinned protoc-gen-go-grpc.
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
generate:
	GOBIN=$(abspath .cache/bin) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	protoc --plugin=protoc-gen-go=.cache/bin/protoc-gen-go -I internal/onnx/onnxpb \
		--go_out=internal/onnx/onnxpb --go_opt=paths=source_relative \
		--go_opt=Monnx.proto=github.com/taxieta/taxieta/internal/onnx/onnxpb onnx.proto
	GOBIN=$(abspath .cache/bin) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	protoc --plugin=protoc-gen-go=.cache/bin/protoc-gen-go --plugin=protoc-gen-go-grpc=.cache/bin/protoc-gen-go-grpc \
		-I internal/oip/oippb --go_out=internal/oip/oippb --go_opt=paths=source_relative \
		--go-grpc_out=internal/oip/oippb --go-grpc_opt=paths=source_relative grpc_predict_v2.proto
