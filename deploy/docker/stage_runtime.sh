#!/usr/bin/env bash
# Copies what one image needs at run time out of a build directory into DEST,
# laid out as the image's root: the binaries in usr/local/bin, every shared
# library they load in usr/local/lib/tunefleet (the Dockerfiles set
# LD_LIBRARY_PATH to it), and for the worker its Kubernetes hooks. Libraries
# every base image has (glibc, libstdc++, libgcc_s) and the NVIDIA driver's
# (mounted by the container toolkit) are left out.
#   stage_runtime.sh coordinator|worker BUILD_DIR DEST
# STAGE_SKIP="name ..." leaves binaries out (tests/deploy stages the worker
# from a build without the trainer). Idempotent: DEST is replaced.
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

rm -rf "$dest"
mkdir -p "$dest/usr/local/bin" "$dest/usr/local/lib/tunefleet"
for b in "${binaries[@]}"; do
  name=$(basename "$b")
  if [[ " ${STAGE_SKIP:-} " == *" $name "* ]]; then continue; fi
  [[ -x $build/$b ]] || { echo "stage_runtime: $build/$b is missing" >&2; exit 1; }
  install -m 0755 "$build/$b" "$dest/usr/local/bin/$name"
  # ldd: "libfoo.so.1 => /path/libfoo.so.1 (0x...)"; "not found" is fatal
  # except for the driver's libraries.
  while read -r soname arrow path _; do
    [[ $arrow == "=>" ]] || continue
    case $soname in
      linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
        libresolv.so.* | libutil.so.* | libstdc++.so.* | libgcc_s.so.* | libcuda.so.* | libnvidia-*.so.*) continue ;;
    esac
    if [[ $path == not ]]; then
      echo "stage_runtime: $name needs $soname, which ldd cannot find" >&2
      exit 1
    fi
    cp -L "$path" "$dest/usr/local/lib/tunefleet/$soname"
  done < <(ldd "$build/$b")
done

if [[ $role == worker ]]; then
  install -m 0755 "$here/worker-entrypoint.sh" "$dest/usr/local/bin/tunefleet-worker-entrypoint"
  install -m 0755 "$here/worker-prestop.sh" "$dest/usr/local/bin/tunefleet-worker-prestop"
fi
echo "stage_runtime: $role: $(ls "$dest/usr/local/bin" | wc -l) programs, $(ls "$dest/usr/local/lib/tunefleet" | wc -l) libraries, $(du -sh "$dest" | cut -f1)"
