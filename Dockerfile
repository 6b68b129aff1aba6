# syntax=docker/dockerfile:1

# Fieldflow's production image: one static binary (api, worker, migrate, token, defs) plus the
# process definitions it loads at start-up.
#
#   docker build -t fieldflow:latest .
#   docker run --rm fieldflow:latest --help

# --- build -----------------------------------------------------------------------------------
# go.mod asks for Go 1.26.8; golang:1.26 is the newest 1.26.x patch release.
FROM golang:1.26 AS build
WORKDIR /src

# Dependencies first, so that a source-only change reuses this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/fieldflow ./cmd/fieldflow

# --- run -------------------------------------------------------------------------------------
# Static binary: no libc, no shell, runs as uid 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /out/fieldflow /usr/local/bin/fieldflow
COPY definitions/ /app/definitions/

# FIELDFLOW_DEFINITIONS defaults to "definitions", relative to this directory.
WORKDIR /app
USER nonroot:nonroot
EXPOSE 8080

ENTRYPOINT ["fieldflow"]
CMD ["--help"]
