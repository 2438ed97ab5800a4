"""A private network namespace whose loopback is one shaped link, and MPI forced onto it.

Every command runs as ``unshare -n`` (root) or ``unshare -rn`` (an unprivileged user, through a
user namespace) around a small ``sh`` script that brings the namespace's loopback up, sets its
MTU to 1500 (tbf's burst must hold a whole packet; the unthrottled runs use the same MTU so
every rate shares one transport), adds ``tc qdisc ... tbf rate RATE`` unless the rate is
unthrottled, runs the command and afterwards writes ``tc -s qdisc show dev lo`` (the bytes the
shaper passed) to a file. The MPI environment variables make MPICH and Open MPI send every
message, those between ranks on this host included, through TCP on that loopback, so all
ranks share one link of the given rate, like a shared medium (Wi-Fi, a swarm's radio, an
oversubscribed uplink). Nothing outside the namespace changes; it disappears with the command.
Only the rate is shaped: no latency or loss is added.
"""

from __future__ import annotations

import os
import shutil
import subprocess

UNSHARE = "unshare"  # the tests point this elsewhere to exercise the error path
MTU = 1500
BURST = "64kb"  # tbf bucket: 1gbit measured at 950 Mbit/s with it, 100mbit at 95 Mbit/s
LATENCY = "200ms"  # tbf queue limit, expressed as the longest a packet may wait

# MPICH (ch4:ofi, tcp provider): no shared memory, no cross-memory attach, TCP even locally.
# Open MPI: the TCP byte transfer layer only, on the loopback.
MPI_TCP_ENV = {
    "MPIR_CVAR_NOLOCAL": "1",
    "MPIR_CVAR_CH4_NETMOD": "ofi",
    "FI_PROVIDER": "tcp",
    "MPIR_CVAR_CH4_SHM_ENABLE": "0",
    "MPIR_CVAR_CH4_IPC_CMA_ENABLE": "0",
    "MPIR_CVAR_CH4_IPC_XPMEM_ENABLE": "0",
    "OMPI_MCA_pml": "ob1",
    "OMPI_MCA_btl": "tcp,self",
    "OMPI_MCA_btl_tcp_if_include": "lo",
}

# $1 = tc rate ("" for no shaping), $2 = file for the shaper's statistics, then the command.
SCRIPT = f"""set -e
rate=$1; stats=$2; shift 2
ip link set lo up
ip link set lo mtu {MTU}
if [ -n "$rate" ]; then
  tc qdisc add dev lo root tbf rate "$rate" burst {BURST} latency {LATENCY}
fi
set +e
"$@"; rc=$?
if [ -n "$stats" ]; then tc -s qdisc show dev lo > "$stats" 2>&1; fi
exit $rc
"""


class NamespaceUnavailable(RuntimeError):
    """No shaped namespace on this machine; the message says why and what to do (one line)."""


def unshare_flags() -> list[str]:
    return ["-n"] if os.geteuid() == 0 else ["-r", "-n"]


def tc_rate(bits_per_second: int | None) -> str:
    """The rate as tc reads it (``""``: unthrottled)."""
    return "" if bits_per_second is None else f"{int(bits_per_second)}bit"


def wrap(argv: list[str], bits_per_second: int | None, stats_file: str = "") -> list[str]:
    """``argv`` run inside a fresh namespace whose loopback carries ``bits_per_second``."""
    return [UNSHARE, *unshare_flags(), "sh", "-c", SCRIPT, "gossip-netns",
            tc_rate(bits_per_second), stats_file, *argv]


def env(base: dict | None = None) -> dict:
    out = dict(os.environ if base is None else base)
    out.update(MPI_TCP_ENV)
    return out


def check() -> None:
    """Make one shaped namespace and raise :class:`NamespaceUnavailable` if that fails."""
    how = "unshare " + " ".join(unshare_flags())
    if shutil.which(UNSHARE) is None:
        raise NamespaceUnavailable(
            f"`{UNSHARE}` not found: the shaped link needs a network namespace; install "
            f"util-linux (apt-get install util-linux)")
    for tool, pkg in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            raise NamespaceUnavailable(
                f"`{tool}` not found: the shaped link needs it; install {pkg} "
                f"(apt-get install {pkg})")
    try:
        proc = subprocess.run(wrap(["true"], 1_000_000), capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NamespaceUnavailable(f"cannot start `{how}` ({e}); run as root or enable user "
                                   f"namespaces") from None
    if proc.returncode == 0:
        return
    err = " ".join(proc.stderr.split()) or f"exit status {proc.returncode}"
    if "tbf" in err or "qdisc" in err or "RTNETLINK" in err or "tc:" in err.lower():
        raise NamespaceUnavailable(
            f"tc cannot shape the namespace's loopback ({err}); load the tbf qdisc "
            f"(modprobe sch_tbf) or run as root")
    raise NamespaceUnavailable(
        f"cannot create a network namespace with `{how}` ({err}); run as root, or allow "
        f"unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 "
        f"user.max_user_namespaces=15000; in a container: --privileged or "
        f"--cap-add SYS_ADMIN)")
