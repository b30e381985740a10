# syntax=docker/dockerfile:1
#
# runner in a container: a release build, then a small non-root runtime image.
#
#   docker build -t runner:latest .
#   docker run --rm runner:latest                                 # the day-in-life against the built-in target
#   docker run --rm -v "$PWD/reports:/reports" runner:latest run scenarios/day_in_life.rhai --speed 100 --out /reports
#   docker run --rm runner:latest run scenarios/day_in_life.rhai --target http://orders.example:8080
#   docker run --rm -v "$PWD:/work:ro" runner:latest run /work/smoke.tar.gz   # a bundle made with `runner archive`
#
# Needs BuildKit (the default builder since Docker 23; `DOCKER_BUILDKIT=1` before that)
# for the cache mounts below. docs/scale-out.md has the Kubernetes flow.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- build ---------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src

# Only what `cargo build -p runner` reads: the workspace manifests and lock
# file, both crates' sources, the stdlib (compiled into the binary with
# include_str!), and the bench and test targets Cargo.toml declares (cargo
# refuses a manifest whose declared targets are missing, even when it does not
# build them).
COPY Cargo.toml Cargo.lock ./
COPY targets/ targets/
COPY src/ src/
COPY stdlib/ stdlib/
COPY benches/ benches/
COPY tests/ tests/

# Downloaded crates and the target folder live in BuildKit cache mounts, so a
# rebuild after a source change recompiles runner's own crates only. The cached
# target folder is not part of the image: copy the binary out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p runner \
 && install -D -m 0755 target/release/runner /out/runner

# ---- runtime -------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# (an ARG from before the first FROM is only seen by FROM lines unless declared again)
ARG DEBIAN_RELEASE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="runner" \
      org.opencontainers.image.description="Declarative load and lifecycle simulation: Rhai scenarios compiled to async step graphs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"

# CA certificates: the HTTPS client trusts the system's roots (rustls-native-certs).
# Not pinned: the security updates of the release are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric UID/GID, so that Kubernetes' runAsNonRoot can verify it and
# volumes can be prepared for it (fsGroup 10001).
RUN groupadd --system --gid 10001 runner \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/runner --create-home \
            --shell /usr/sbin/nologin runner \
 && mkdir -p /reports \
 && chown 10001:10001 /reports

COPY --from=build /out/runner /usr/local/bin/runner
# The shipped scenarios and packs (the stdlib is compiled into the binary).
COPY --chown=0:0 scenarios/ /opt/runner/scenarios/

# Bundles (`runner run FILE.tar.gz`) are unpacked under RUNNER_CACHE: /tmp stays
# writable with a read-only root filesystem (an emptyDir in Kubernetes).
# RUNNER_PACK_PATH makes the shipped packs runnable by name (`order-api:stress`).
ENV RUNNER_CACHE=/tmp/runner-cache \
    RUNNER_PACK_PATH=/opt/runner/scenarios

WORKDIR /opt/runner
USER 10001:10001
# `--metrics-addr 0.0.0.0:9464` serves Prometheus metrics here.
EXPOSE 9464

ENTRYPOINT ["/usr/local/bin/runner"]
CMD ["run", "scenarios/day_in_life.rhai", "--speed", "100", "--out", "/reports"]
