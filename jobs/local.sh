#!/usr/bin/env bash
# Local multi-process run: jobs/local.sh [RANKS] [extra gossip train flags...]
# e.g. jobs/local.sh 8 --topology hypercube --config jobs/configs/default.toml
set -euo pipefail
ranks="${1:-4}"
shift || true
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$here/.venv/bin/mpiexec" ]; then launcher="$here/.venv/bin/mpiexec"; else launcher=mpiexec; fi
# Open MPI refuses root and oversubscription unless told; MPICH ignores these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
exec "$launcher" -n "$ranks" python -m gossip train "$@"
