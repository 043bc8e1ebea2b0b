# syntax=docker/dockerfile:1
# The worker, the CUDA trainer and the CLI. Build from the repository's root on
# a machine that reaches Debian's mirrors and PyPI (at build time only):
#   docker build -f deploy/docker/worker.Dockerfile -t tunefleet/worker:0.1.0 .
# libtorch is the torch wheel that requirements.txt pins: install_deps.sh
# (TUNEFLEET_DEPS=image) puts it and its nvidia-* wheels (CUDA runtime, cuBLAS,
# cuDNN, NCCL, ...) into /src/.venv, and build.sh builds the CUDA trainer
# against them; no CUDA toolkit and no libtorch download. stage_runtime.sh then
# copies the binaries and every library they load, those wheels' included,
# into /stage, so the run-time image needs neither Python nor the virtualenv.
# Every RUN is a script of the repository that the test suite also runs
# (tests/deploy): install_deps.sh, build.sh, stage_runtime.sh.

FROM debian:bookworm AS build
WORKDIR /src
COPY . /src
RUN TUNEFLEET_DEPS=image scripts/install_deps.sh
RUN TUNEFLEET_DEPS=image TUNEFLEET_BUILD_DIR=/src/build-image scripts/build.sh -DCMAKE_BUILD_TYPE=Release -DTUNEFLEET_CUDA=ON -DTUNEFLEET_BUILD_TESTS=OFF -DTUNEFLEET_BUILD_BENCH=OFF
RUN deploy/docker/stage_runtime.sh worker /src/build-image /stage

# The same Debian as the build (glibc, libstdc++). The CUDA user-space
# libraries come staged from the wheels (CUDA 13.0); the driver's (libcuda,
# NVML) are mounted by the NVIDIA container toolkit into a container given
# GPUs (the Kubernetes device plugin, `docker run --gpus`): compute for CUDA,
# utility for NVML (the worker's GPU discovery) and nvidia-smi. The toolkit
# refuses to start the container on a driver older than CUDA 13.0's (580).
FROM debian:bookworm-slim
COPY --from=build /stage/ /
ENV LD_LIBRARY_PATH=/usr/local/lib/tunefleet \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NVIDIA_REQUIRE_CUDA="cuda>=13.0"
EXPOSE 50052 9465
ENTRYPOINT ["/usr/local/bin/tunefleet-worker-entrypoint"]
