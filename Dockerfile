# Build
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY openapi ./openapi
RUN cargo build --release --locked && strip target/release/switchboard

# Run: PostgreSQL binaries are included so the embedded default also works without DATABASE_URL.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/switchboard switchboard
COPY --from=build /src/target/release/switchboard /usr/local/bin/switchboard
USER switchboard
WORKDIR /var/lib/switchboard
ENV SWITCHBOARD_LISTEN=0.0.0.0:8080 \
    SWITCHBOARD_DATA_DIR=/var/lib/switchboard/data \
    SWITCHBOARD_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["switchboard"]
CMD ["serve"]
