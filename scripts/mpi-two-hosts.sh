#!/usr/bin/env bash
# Runs one command under mpirun across two "hosts" on this machine: two network namespaces joined by a veth
# pair, Open MPI's TCP transport between them, and — instead of ssh — a remote launcher that runs Open MPI's
# daemon inside the target namespace. All MPI traffic crosses the veth pair; nothing leaves the namespaces.
# The namespaces are removed on exit, whatever happens.
#
#   scripts/mpi-two-hosts.sh [mpirun options --] COMMAND...     e.g.
#   scripts/mpi-two-hosts.sh .build/debug/glm pretrain --data data --batch-size 2 ...
#
# Needs root (ip netns, from iproute2) and Open MPI (openmpi-bin). One rank per host.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 [MPIRUN-OPTIONS --] COMMAND..." >&2; exit 2; }
extra=()
if printf '%s\n' "$@" | grep -qx -- '--'; then
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
fi
command -v ip >/dev/null || { echo "ip (iproute2) is not installed" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpirun (openmpi-bin) is not installed" >&2; exit 2; }

tag="glm$$"
nsA="${tag}a" nsB="${tag}b"
addrA=10.231.$(( $$ % 250 )).1 addrB=10.231.$(( $$ % 250 )).2
subnet=10.231.$(( $$ % 250 )).0/24
work=$(mktemp -d)
cleanup() {
  ip netns del "$nsA" 2>/dev/null || true
  ip netns del "$nsB" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$nsA"
ip netns add "$nsB"
ip link add "${tag}x" type veth peer name "${tag}y"
ip link set "${tag}x" netns "$nsA"
ip link set "${tag}y" netns "$nsB"
ip -n "$nsA" addr add "$addrA/24" dev "${tag}x"
ip -n "$nsB" addr add "$addrB/24" dev "${tag}y"
for ns in "$nsA" "$nsB"; do ip -n "$ns" link set lo up; done
ip -n "$nsA" link set "${tag}x" up
ip -n "$nsB" link set "${tag}y" up
ip -n "$nsA" route get "$addrB" >/dev/null || { echo "no route between the namespaces" >&2; exit 1; }

# The "remote shell": Open MPI calls it as `agent [options] HOST COMMAND...` (like ssh); it runs COMMAND in
# HOST's namespace.
cat > "$work/agent" <<AGENT
#!/bin/sh
while [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case "\$host" in
  $addrA) ns=$nsA ;;
  $addrB) ns=$nsB ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
AGENT
chmod +x "$work/agent"
printf '%s slots=1\n%s slots=1\n' "$addrA" "$addrB" > "$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "hosts: $addrA (namespace $nsA), $addrB (namespace $nsB) over veth ${tag}x/${tag}y"
set +e
ip netns exec "$nsA" mpirun --hostfile "$work/hostfile" -np 2 \
  --mca plm_rsh_agent "$work/agent" --mca plm_rsh_no_tree_spawn 1 \
  --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet" \
  -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM --wdir "$PWD" "${extra[@]}" "$@"
status=$?
exit $status
