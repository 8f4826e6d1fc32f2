# syntax=docker/dockerfile:1
# taxieta's container image: one static binary (with the default model
# embedded) on distroless, running as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t taxieta .
#   docker run --rm -p 8000:8000 taxieta
#
# Verified by scripts/image-test.sh (builds this file, runs the image, checks
# readiness, a prediction, the uid, SIGTERM and the size).

# The Go release go.mod's toolchain line pins (patched for the standard
# library's known vulnerabilities; see README, "Toolchain and known vulnerabilities").
FROM golang:1.26.10-bookworm AS build
# auto: if this image's go is older than go.mod's toolchain line (a stale tag,
# or a stand-in base image), go fetches that toolchain from the module proxy
# instead of building with the older one; with the matching image it is a no-op.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY . .
ARG VERSION=dev
# Static (no cgo), reproducible paths (-trimpath), no symbol tables (-s -w).
# -tags nonatsserver leaves out the embedded NATS server (a third of the
# binary): in a container, `taxieta stream` connects to a NATS service.
# The module and build caches persist between builds in cache mounts, so no
# separate `go mod download` step: that would also fetch the modules only the
# tests use (Kubernetes types, compose-go, chromedp...), which go build skips.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go version \
 && CGO_ENABLED=0 go build -trimpath -tags nonatsserver \
      -ldflags "-s -w -X github.com/taxieta/taxieta/internal/buildinfo.version=${VERSION}" \
      -o /out/taxieta ./cmd/taxieta \
 && mkdir -p /out/cache

# CA certificates (for a TLS model registry), /etc/passwd with nonroot = 65532,
# /tmp; no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/taxieta /taxieta
# A cache the non-root user owns: TLC downloads, and registry models kept so the
# server can start from its last copy when the registry is down. A new named
# volume mounted here starts owned by 65532 too (Kubernetes mounts an emptyDir).
COPY --from=build --chown=65532:65532 /out/cache /var/cache/taxieta
ENV TAXIETA_CACHE_DIR=/var/cache/taxieta
# Numeric, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 65532:65532
# The server listens on 0.0.0.0:8000 by default (TAXIETA_ADDR changes it), and
# answers the Open Inference Protocol v2 over gRPC on :8001 (TAXIETA_GRPC_ADDR).
EXPOSE 8000 8001
# There is no curl here: the binary probes its own /readyz (port from TAXIETA_ADDR).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/taxieta", "healthcheck"]
ENTRYPOINT ["/taxieta"]
CMD ["serve"]
