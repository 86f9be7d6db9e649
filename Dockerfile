# capproxy container image: a build stage that compiles the binary and assembles the runtime
# file system, and a runtime stage FROM scratch with only that: the binary, the shared libraries
# it links (found with ldd), CA certificates, passwd/group, the documents and the configuration.
#
#   docker build -t capproxy:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 -e CAL_COM_CLIENT_SECRET=... capproxy:0.1.0
#
# See deploy/README.md (size, volumes, secrets, the MCP Host allow-list, Kubernetes manifests).
# tests/integration/deploy.test.mjs checks this file statically and runs the binary with its ENV
# and CMD; scripts/image-test.sh builds and runs the image itself with podman in CI.

# The base image, pinned by digest (debian:12.11-slim, bookworm): the same starting point on
# every build. Debian package versions are not pinned: `apt-get upgrade` and `install` take the
# current bookworm and bookworm-security versions, so a security update never breaks the build
# and the libraries copied into the runtime stage carry it. To move the base: look up the new
# digest (`docker buildx imagetools inspect debian:bookworm-slim`) and replace it here.
# CI builds this same file from a debootstrap'd base imported under the digest-less name
# (scripts/image-test.sh: --build-arg BASE=docker.io/library/debian:bookworm-slim).
ARG BASE=docker.io/library/debian:bookworm-slim@sha256:2424c1850714a4d94666ec928e24d86de958646737b1d113f5b2207be44d37d8

# ------------------------------------------------------------------------------ build stage
FROM ${BASE} AS build
# An ARG, not an ENV: it applies to this stage's RUNs only and is not baked into an image.
ARG DEBIAN_FRONTEND=noninteractive

RUN apt-get update \
    && apt-get upgrade -y \
    && apt-get install -y --no-install-recommends \
        build-essential \
        meson \
        ninja-build \
        pkg-config \
        ca-certificates \
        libevent-dev \
        libcurl4-openssl-dev \
        libssl-dev \
        libyaml-dev \
        libcjson-dev \
        libxml2-dev \
        libcsv-dev \
        libmd4c-dev \
        libmimalloc-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what meson.build reads: it names the unit-test sources, so they must be present to
# configure, but only the capproxy target is compiled. meson_options.txt declares the `fuzz`
# option meson.build asks for; tests/fuzz/ is only read with -Dfuzz=true, copied to stay whole.
COPY meson.build meson_options.txt ./
COPY src/ src/
COPY tests/unit/ tests/unit/
COPY tests/fuzz/ tests/fuzz/
# meson.build's install rules name the shipped documents and configuration.
COPY capabilities/ capabilities/
COPY config/ config/
RUN meson setup build --buildtype=release \
    && ninja -C build capproxy

# The shipped documents and configuration must load with the binary that ships them.
RUN build/capproxy validate -c config/capproxy.yaml capabilities/

# The runtime file system in /rootfs: every shared object `ldd` resolves for the binary (the
# loader included) and for libxml2, which capproxy loads on first use (dlopen, src/core/convert.c),
# copied to the same path with symlinks followed, plus ld.so.cache; the CA
# bundle libcurl is built to read; the service user 10001 and its group; hosts looked up in
# /etc/hosts, then DNS. Nothing else: no shell, no package manager, no curl.
RUN mkdir -p /rootfs/etc/ssl/certs \
    && xml2=$(ldconfig -p | awk '$1 == "libxml2.so.2" { print $NF; exit }') \
    && test -n "$xml2" \
    && { ldd build/capproxy; echo "libxml2.so.2 => $xml2 (0)"; ldd "$xml2"; } \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
        | sort -u | xargs -r cp --parents -L -t /rootfs \
    && ldconfig -r /rootfs \
    && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
    && printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ncapproxy:x:10001:10001:capproxy:/nonexistent:/usr/sbin/nologin\n' >/rootfs/etc/passwd \
    && printf 'root:x:0:\ncapproxy:x:10001:\n' >/rootfs/etc/group \
    && printf 'hosts: files dns\n' >/rootfs/etc/nsswitch.conf

# ---------------------------------------------------------------------------- runtime stage
FROM scratch AS runtime
ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="capproxy" \
      org.opencontainers.image.description="Serves YAML capability documents as a REST API and an MCP server" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

COPY --from=build /rootfs/ /
# Owned by root and not writable by the service user. capabilities/ and config/ are baked in;
# mount over them to replace them (-v $PWD/capabilities:/app/capabilities:ro).
WORKDIR /app
COPY --from=build /src/build/capproxy /app/capproxy
COPY capabilities/ /app/capabilities/
COPY config/ /app/config/

# Listeners (README.md "Configuration"; every other setting is an environment variable too:
# CAL_COM_CLIENT_SECRET or CAL_COM_CLIENT_SECRET_FILE, CAL_COM_API_KEY, CAL_COM_BASE_URI,
# CAPPROXY_WORKERS, CAPPROXY_SESSION_KEY, CAPPROXY_DRAIN_TIMEOUT, CAPPROXY_LOG_LEVEL...).
# capproxy listens on 127.0.0.1 by default; inside a container that is unreachable through
# `docker run -p` or a Kubernetes Service, so the image opens REST, MCP and admin on every
# interface of the container's own network namespace. An adapter without `authentication` that
# injects a configured credential is then reported at start: only publish the ports to callers
# that may use that credential. MCP's Host allow-list only admits loopback names on port 9090:
# name the others in CAPPROXY_MCP_ALLOWED_HOSTS (comma-separated) or mcp.allowedHosts.
ENV CAPPROXY_REST_LISTEN=0.0.0.0:8080 \
    CAPPROXY_MCP_LISTEN=0.0.0.0:9090 \
    CAPPROXY_ADMIN_LISTEN=0.0.0.0:9901 \
    CAPPROXY_LOG_FORMAT=json

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# The libraries resolve and the shipped documents load, as the service user, in this stage.
RUN ["/app/capproxy", "validate", "-c", "/app/config/capproxy.yaml", "/app/capabilities"]

# REST, MCP, admin (/healthz, /readyz).
EXPOSE 8080 9090 9901
# capproxy stops accepting, drains in-flight requests (CAPPROXY_DRAIN_TIMEOUT) and exits.
STOPSIGNAL SIGTERM
# `capproxy healthcheck` GETs /healthz on the admin listener the configuration and
# CAPPROXY_ADMIN_LISTEN name (so another admin port needs no --health-cmd); with the admin
# listener "off" it fails: run such a container with --no-healthcheck.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/app/capproxy", "healthcheck", "-c", "/app/config/capproxy.yaml"]

ENTRYPOINT ["/app/capproxy"]
CMD ["-c", "/app/config/capproxy.yaml", "/app/capabilities"]
