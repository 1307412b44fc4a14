# syntax=docker/dockerfile:1
# Build a static binary, ship it alone with CA certificates. The final image
# runs as root and sets no WORKDIR: the Actions runner needs both.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/regsweep .

# The default image: nothing but the binary and CA certificates.
FROM scratch AS action
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.source="https://github.com/regsweep/regsweep" \
      org.opencontainers.image.title="regsweep" \
      org.opencontainers.image.description="Delete container images from any registry by policy, safely and fast" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/regsweep /regsweep
ENTRYPOINT ["/regsweep"]

# GitLab CI runs `script:` with /bin/sh, so it gets a busybox-based variant
# (docker build --target shell); published as :<version>-shell.
FROM busybox:1.37-musl AS shell
COPY --from=action / /
ENTRYPOINT ["/regsweep"]

# The last stage is what a plain `docker build` (and the action) builds.
FROM action
