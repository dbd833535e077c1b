# syntax=docker/dockerfile:1.7
#
# ssc-operator: one binary (run, emulator, crd, status, rotate, completion). Built without the
# default `demo` feature: the image does not carry the sandbox API server (kube-standin) that
# `ssc-operator demo` runs, nor what only it needs.
#
#   docker build -t ghcr.io/ssc-operator/ssc-operator:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .
#
# Runtime base: gcr.io/distroless/cc-debian12:nonroot, not static-debian12.
# The binary is built for the *-unknown-linux-gnu target, Rust's default: it
# links glibc and libgcc_s dynamically, which static-debian12 does not have and
# cc-debian12 (glibc + libgcc_s + CA certificates, nothing else) does. TLS is
# rustls throughout (kube-rs, the AWS SDK; crypto from ring and aws-lc-rs,
# compiled in), so no OpenSSL is needed or present. A fully static musl build
# could run on static-debian12, but would need a musl C toolchain for aws-lc,
# ring and jemalloc (the allocator, see src/main.rs); the ~20 MB saved is not
# worth it.
# The builder is Debian 12 (bookworm) too, so the binary's glibc symbol
# versions match the runtime's glibc 2.36.

ARG RUST_VERSION=1.94

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
ARG TARGETPLATFORM
WORKDIR /src
# Sources only (.dockerignore keeps target/, .git, tests' venvs, charts out).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY benches ./benches
# --locked: exactly Cargo.lock. Cache mounts keep the registry and the target
# dir (one per platform) between builds; the binary is copied out of the mount.
# aws-lc-sys builds its C code with the cc crate: no cmake, clang or bindgen.
# jemalloc (the binary's allocator) fixes its page size when built: 64 KiB on
# arm64 runs on kernels with 4 KiB and with 64 KiB pages.
RUN --mount=type=cache,target=/usr/local/cargo/registry,id=cargo-registry \
    --mount=type=cache,target=/usr/local/cargo/git,id=cargo-git \
    --mount=type=cache,target=/src/target,id=ssc-target-${TARGETPLATFORM},sharing=locked \
    if [ "$TARGETPLATFORM" = "linux/arm64" ]; then export JEMALLOC_SYS_WITH_LG_PAGE=16; fi; \
    cargo build --release --locked --no-default-features --bin ssc-operator \
 && install -D -m 0755 target/release/ssc-operator /out/ssc-operator \
 && /out/ssc-operator --version

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="ssc-operator" \
      org.opencontainers.image.description="Kubernetes operator for AWS IAM service-specific credentials, with an IAM emulator" \
      org.opencontainers.image.source="https://github.com/ssc-operator/ssc-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ssc-operator /ssc-operator
# distroless "nonroot": uid/gid 65532, matching the manifests' runAsUser.
USER 65532:65532
# /metrics, /healthz, /readyz (run); 9600 is the emulator's port (emulator).
EXPOSE 8080 9600
ENTRYPOINT ["/ssc-operator"]
CMD ["run"]
