# The worker, the operator CLI, the Wistia simulator and the container health probe in one small
# image. Build: docker build -t wistia-pipeline .
FROM golang:1.26 AS build
# The image is the root module alone: a go.work at the repository root (the CDK app in deploy/cdk
# may join one) must not change what is built. .dockerignore keeps deploy/cdk out of the context.
ENV GOWORK=off CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/ ./worker ./starter ./cmd/wistiasim ./cmd/healthcheck && \
    mkdir -p /rootfs/data

# distroless: no shell, so compose health checks run /usr/local/bin/healthcheck.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
# /data belongs to the image's user, so a fresh named volume mounted there starts writable
# (docker-compose.yml also has volumes-init chown it, for volumes made by older versions).
COPY --from=build --chown=65532:65532 /rootfs/ /
# 65532 is distroless's "nonroot" user; numeric, so runtimes can check it is not root.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/worker"]
