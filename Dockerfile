# capproxy container image: a build stage that compiles the binary, and a slim runtime stage
# with only the shared libraries it links, the capability documents and the configuration.
#
#   docker build -t capproxy:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 -e CAL_COM_CLIENT_SECRET=... capproxy:0.1.0
#
# See deploy/README.md (volumes, secrets, the MCP Host allow-list, Kubernetes manifests).
# tests/integration/deploy.test.mjs checks this file statically (stages, packages against
# `ldd build/capproxy`, user, ports, health check) and runs the binary with its ENV and CMD.

# Debian package versions pinned to the ones CI tests against: Debian's security updates
# change evhttp and libcurl behaviour (docs/c-style section 10). When Debian ships a newer
# one, apt-get fails on the old pin: bump both here and re-run the tests on that version.
ARG LIBEVENT_VERSION=2.1.12-stable-8+deb12u1
ARG CURL_VERSION=7.88.1-10+deb12u15

# ------------------------------------------------------------------------------ build stage
FROM debian:bookworm-slim AS build
ARG LIBEVENT_VERSION
ARG CURL_VERSION

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential \
        meson \
        ninja-build \
        pkg-config \
        libevent-dev=${LIBEVENT_VERSION} \
        libcurl4-openssl-dev=${CURL_VERSION} \
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
RUN meson setup build --buildtype=release \
    && ninja -C build capproxy

# The shipped documents and configuration must load with the binary that ships them.
COPY capabilities/ capabilities/
COPY config/ config/
RUN build/capproxy validate -c config/capproxy.yaml capabilities/

# ---------------------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim AS runtime
ARG LIBEVENT_VERSION
ARG CURL_VERSION
ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="capproxy" \
      org.opencontainers.image.description="Serves YAML capability documents as a REST API and an MCP server" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# The shared libraries `ldd build/capproxy` needs (their own dependencies come with them),
# CA certificates for TLS to the upstreams, and curl for the HEALTHCHECK: it shares libcurl4
# with capproxy, so it adds about 0.5 MB (busybox would add 0.8 MB).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libevent-2.1-7=${LIBEVENT_VERSION} \
        libevent-pthreads-2.1-7=${LIBEVENT_VERSION} \
        libcurl4=${CURL_VERSION} \
        libssl3 \
        libyaml-0-2 \
        libcjson1 \
        libxml2 \
        libcsv3 \
        libmd4c0 \
        libmimalloc2.0 \
        ca-certificates \
        curl=${CURL_VERSION} \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 capproxy \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin capproxy

WORKDIR /app
# Owned by root and not writable by the service user. capabilities/ and config/ are baked in;
# mount over them to replace them (-v $PWD/capabilities:/app/capabilities:ro).
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

# The libraries resolve and the shipped documents load, as the service user.
RUN ["/app/capproxy", "validate", "-c", "/app/config/capproxy.yaml", "/app/capabilities"]

# REST, MCP, admin (/healthz, /readyz).
EXPOSE 8080 9090 9901
# capproxy stops accepting, drains in-flight requests (CAPPROXY_DRAIN_TIMEOUT) and exits.
STOPSIGNAL SIGTERM
# Against the admin listener (CAPPROXY_ADMIN_LISTEN): a container run with another admin port,
# or with it "off", needs --health-cmd (or --no-healthcheck) too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "--noproxy", "*", "--max-time", "2", "-o", "/dev/null", "http://127.0.0.1:9901/healthz"]

ENTRYPOINT ["/app/capproxy"]
CMD ["-c", "/app/config/capproxy.yaml", "/app/capabilities"]
