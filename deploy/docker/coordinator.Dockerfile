# syntax=docker/dockerfile:1
# The coordinator and the CLI on debian:bookworm-slim. Build from the
# repository's root:
#   docker build -f deploy/docker/coordinator.Dockerfile -t tunefleet/coordinator:0.1.0 .
# Every RUN is a script of the repository that the test suite also runs
# (tests/deploy): install_deps.sh, build.sh, stage_runtime.sh.

FROM debian:bookworm AS build
WORKDIR /src
COPY . /src
RUN TUNEFLEET_DEPS=image scripts/install_deps.sh
RUN TUNEFLEET_BUILD_DIR=/src/build-image scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DTUNEFLEET_BUILD_TRAINER=OFF -DTUNEFLEET_BUILD_TESTS=OFF -DTUNEFLEET_BUILD_BENCH=OFF
RUN deploy/docker/stage_runtime.sh coordinator /src/build-image /stage

FROM debian:bookworm-slim
COPY --from=build /stage/ /
ENV LD_LIBRARY_PATH=/usr/local/lib/tunefleet
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/tunefleet-coordinator"]
CMD ["--listen=0.0.0.0:50051", "--database=/var/lib/tunefleet/tunefleet.db", "--metrics-listen=0.0.0.0:9464"]
