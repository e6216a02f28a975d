#!/usr/bin/env bash
# Runs a test binary as one MPI job of $MOEGRAD_TEST_RANKS (default 2) ranks on this machine,
# with what the sandboxed test machines need: root, more ranks than cores, and no
# cross-memory-attach (ptrace is refused in containers, so vader's single-copy fails).
# Usage: run_ranks.sh MPIRUN BINARY [ARGS...]; an empty MPIRUN means moegrad was built
# without MPI, and the test is reported Not Run (77), never passed.
set -uo pipefail
mpirun=$1; shift
if [ -z "$mpirun" ]; then
  echo "moegrad was built without MPI (MOEGRAD_MPI=OFF or libopenmpi-dev missing): distributed test not run"
  exit 77
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
exec "$mpirun" --allow-run-as-root --oversubscribe -np "${MOEGRAD_TEST_RANKS:-2}" "$@"
