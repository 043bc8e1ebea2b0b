#!/usr/bin/env bash
# Copies what one image needs at run time out of a build directory into DEST,
# laid out as the image's root: the binaries in usr/local/bin, every shared
# library they load in usr/local/lib/tunefleet (the Dockerfiles set
# LD_LIBRARY_PATH to it), and for the worker its Kubernetes hooks. Libraries
# every base image has (glibc, libstdc++, libgcc_s) and the NVIDIA driver's
# (mounted by the container toolkit) are left out.
#
# The libraries are those ldd resolves: for the trainer that includes
# libtorch (torch/lib in the virtualenv, through the trainer's RUNPATH) and
# the CUDA, cuDNN and NCCL libraries of the nvidia-* wheels that libtorch_cuda
# needs (site-packages/nvidia/*/lib, through libtorch_cuda's own RPATH).
# What libtorch and cuDNN load later with dlopen, which ldd cannot see, is
# added with what it needs in turn (see DLOPENED below).
#   stage_runtime.sh coordinator|worker BUILD_DIR DEST
# STAGE_SKIP="name ..." leaves binaries out (tests/deploy stages the worker
# from a build without the trainer). STAGE_LINK=1 hard-links the libraries
# instead of copying them where it can (tests/deploy: the same files, without
# writing gigabytes). Idempotent: DEST is replaced.
set -euo pipefail
role=${1:?coordinator or worker}
build=${2:?build directory}
dest=${3:?destination}
here=$(cd "$(dirname "$0")" && pwd)

case $role in
  coordinator) binaries=(coordinator/tunefleet-coordinator cli/tunefleet) ;;
  worker) binaries=(worker/tunefleet-worker cli/tunefleet trainer/tunefleet-trainer) ;;
  *) echo "stage_runtime: role must be coordinator or worker, not $role" >&2; exit 2 ;;
esac

# Loaded with dlopen by a library that is staged: "LOADER PATTERN...", the
# patterns matched in the loader's own folder.
#   libtorch_cuda.so: libtorch_cuda_linalg.so (torch.linalg on CUDA: cuSOLVER,
#     loaded on first use) and libcaffe2_nvrtc.so (NVRTC, for the kernels
#     libtorch compiles at run time);
#   libcudnn.so.9: cuDNN 9's engines and sub-libraries (graph, ops, cnn, adv,
#     heuristic, engines_*);
#   libnvrtc.so.*: its builtins.
DLOPENED=(
  "libtorch_cuda.so libtorch_cuda_linalg.so libcaffe2_nvrtc.so"
  "libcudnn.so.9 libcudnn_*.so.9"
  "libnvrtc.so.* libnvrtc-builtins.so.*"
)

libdir=$dest/usr/local/lib/tunefleet
declare -A staged=() # soname -> the file it was copied from

copy() { # FROM TO (never writing through an existing TO, which may be a link)
  rm -f "$2"
  if [[ ${STAGE_LINK:-0} == 1 ]] && cp -L --link "$1" "$2" 2>/dev/null; then return; fi
  cp -L "$1" "$2"
}

stage_libs() { # FILE NAME: every library ldd resolves for FILE
  local soname arrow path
  # ldd: "libfoo.so.1 => /path/libfoo.so.1 (0x...)"; "not found" is fatal
  # except for the driver's libraries.
  while read -r soname arrow path _; do
    [[ $arrow == "=>" ]] || continue
    case $soname in
      linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
        libresolv.so.* | libutil.so.* | libstdc++.so.* | libgcc_s.so.* | libcuda.so.* | libnvidia-*.so.*) continue ;;
    esac
    if [[ $path == not ]]; then
      echo "stage_runtime: $2 needs $soname, which ldd cannot find" >&2
      exit 1
    fi
    [[ -n ${staged[$soname]:-} ]] && continue
    copy "$path" "$libdir/$soname"
    staged[$soname]=$path
  done < <(ldd "$1")
}

rm -rf "$dest"
mkdir -p "$dest/usr/local/bin" "$libdir"
for b in "${binaries[@]}"; do
  name=$(basename "$b")
  if [[ " ${STAGE_SKIP:-} " == *" $name "* ]]; then continue; fi
  [[ -x $build/$b ]] || { echo "stage_runtime: $build/$b is missing" >&2; exit 1; }
  install -m 0755 "$build/$b" "$dest/usr/local/bin/$name"
  stage_libs "$build/$b" "$name"
done

for entry in "${DLOPENED[@]}"; do
  read -r loader patterns <<<"$entry"
  for soname in "${!staged[@]}"; do
    # shellcheck disable=SC2053 # $loader is a glob pattern
    [[ $soname == $loader ]] || continue
    from=$(dirname "$(readlink -f "${staged[$soname]}")")
    for pattern in $patterns; do
      for lib in "$from"/$pattern; do
        [[ -f $lib ]] || { echo "stage_runtime: $soname's $pattern is not in $from" >&2; exit 1; }
        base=$(basename "$lib")
        [[ -z ${staged[$base]:-} ]] || continue
        copy "$lib" "$libdir/$base"
        staged[$base]=$lib
        stage_libs "$lib" "$base"
      done
    done
  done
done

if [[ $role == worker ]]; then
  install -m 0755 "$here/worker-entrypoint.sh" "$dest/usr/local/bin/tunefleet-worker-entrypoint"
  install -m 0755 "$here/worker-prestop.sh" "$dest/usr/local/bin/tunefleet-worker-prestop"
fi
echo "stage_runtime: $role: $(ls "$dest/usr/local/bin" | wc -l) programs, $(ls "$libdir" | wc -l) libraries, $(du -sh "$dest" | cut -f1)"
