# Sessionhub in a container: built in one stage, run as a non-root user in a slim one.
#   docker build -t sessionhub .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://… -e SESSIONHUB_SESSION_SECRET=… \
#     -e SESSIONHUB_IDENTITY_SECRET=… sessionhub
# The build runs the same command CI proves (`cargo build --release --locked`).
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sessionhub

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/sessionhub sessionhub
COPY --from=build /src/target/release/sessionhub /usr/local/bin/sessionhub
USER sessionhub
WORKDIR /var/lib/sessionhub
# Production mode refuses to start without real keys: pass them in the environment.
ENV SESSIONHUB_LISTEN=0.0.0.0:8080 \
    SESSIONHUB_PRODUCTION=true \
    SESSIONHUB_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["sessionhub"]
CMD ["serve"]
