# syntax=docker/dockerfile:1
# The one Omni image: `omni serve <service>`, `omni migrate`, `omni config print`.
#
#   docker build -t omni:dev .
#   docker run --rm omni:dev serve orders        (settings: OMNI__SECTION__KEY variables or OMNI_CONFIG)
#
# Stages: chef (cargo-chef) -> planner (dependency recipe) -> builder (dependencies cached in their own
# layer, then the workspace) -> runtime (debian slim, the binary and the shared libraries it links).
# Linked at run time: libpq (diesel's postgres backend through pq-sys) and libsqlite3 (diesel's sqlite
# backend, used by `omni dev`); librdkafka is built from source and linked statically (rdkafka-sys), zlib is
# part of the base image; Kafka TLS and SASL over TLS use OpenSSL (rdkafka's `ssl` feature; libssl3 is in the base
# image).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
# The image's package lists are current for its build date; exact version pins of Debian packages break every
# time a stable point release replaces them, so the base image tag is what pins them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG CARGO_PROFILE=release
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml or Cargo.lock change.
RUN cargo chef cook --profile "${CARGO_PROFILE}" --locked --bin omni --recipe-path recipe.json
COPY . .
RUN cargo build --profile "${CARGO_PROFILE}" --locked --bin omni \
    && install -D -m 0755 "target/$(if [ "${CARGO_PROFILE}" = dev ]; then echo debug; else echo "${CARGO_PROFILE}"; fi)/omni" /out/omni

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# See the note on DL3008 in the chef stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libpq5 libsqlite3-0 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 omni \
    && useradd --system --uid 10001 --gid omni --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin omni
COPY --from=builder /out/omni /usr/local/bin/omni
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
# Containers bind every interface; the service picks its port from http.ports.<service> (8081-8086).
ENV OMNI__HTTP__HOST=0.0.0.0 \
    OMNI__TELEMETRY__FORMAT=json
EXPOSE 8081 8082 8083 8084 8085 8086
ENTRYPOINT ["/usr/local/bin/omni"]
CMD ["--help"]
