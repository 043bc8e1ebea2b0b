# syntax=docker/dockerfile:1
# The worker, the trainer (against a CUDA libtorch, NCCL included) and the CLI
# on an NVIDIA CUDA base. Build from the repository's root on a machine with
# internet (the libtorch archive is downloaded at build time, never at run time):
#   docker build -f deploy/docker/worker.Dockerfile \
#     --build-arg LIBTORCH_SHA256=<sha256 of the archive> -t tunefleet/worker:0.1.0 .
# Every RUN is a script of the repository that the test suite also runs
# (tests/deploy): install_deps.sh, fetch_libtorch.sh, build.sh, stage_runtime.sh.
ARG CUDA_IMAGE_VERSION=12.6.3
ARG CUDA_IMAGE_OS=ubuntu24.04

FROM nvidia/cuda:${CUDA_IMAGE_VERSION}-cudnn-devel-${CUDA_IMAGE_OS} AS build
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu126/libtorch-cxx11-abi-shared-with-deps-2.6.0%2Bcu126.zip
ARG LIBTORCH_SHA256=
ARG CUDA_ARCHITECTURES=80;90
WORKDIR /src
COPY . /src
RUN TUNEFLEET_DEPS=image scripts/install_deps.sh
RUN deploy/docker/fetch_libtorch.sh "$LIBTORCH_URL" "$LIBTORCH_SHA256" /opt/libtorch
RUN TUNEFLEET_BUILD_DIR=/src/build-image scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DTUNEFLEET_CUDA=ON -DTUNEFLEET_TORCH_PREFIX=/opt/libtorch/share/cmake "-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES" -DTUNEFLEET_BUILD_TESTS=OFF -DTUNEFLEET_BUILD_BENCH=OFF
RUN deploy/docker/stage_runtime.sh worker /src/build-image /stage

FROM nvidia/cuda:${CUDA_IMAGE_VERSION}-runtime-${CUDA_IMAGE_OS}
COPY --from=build /stage/ /
ENV LD_LIBRARY_PATH=/usr/local/lib/tunefleet
EXPOSE 50052 9465
ENTRYPOINT ["/usr/local/bin/tunefleet-worker-entrypoint"]
