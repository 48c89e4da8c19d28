"""``python -m localk8s up|down|status|sql`` (with ``cluster/`` on the path): what the
Makefile's ``k8s-up``, ``k8s-down``, ``k8s-status`` and ``k8s-sql`` run."""

from __future__ import annotations

import argparse
import sys

from . import lifecycle, workloads
from .layout import layout
from .tools import CommandError, kubectl, say


def diagnose(lay) -> None:
    """Pods and the last log lines of every pod that is not ready: a red run explains itself."""
    print(kubectl(lay, "get", "pods", "-A", "-o", "wide", check=False), file=sys.stderr)
    out = kubectl(
        lay,
        "get",
        "pods",
        "-A",
        "-o",
        'jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name} {.status.phase}{"\\n"}{end}',
        check=False,
    )
    for line in out.splitlines():
        ns, name, phase = [*line.split(), "", "", ""][:3]
        if phase not in ("Running", "Succeeded"):
            print(f"--- {ns}/{name} ({phase})", file=sys.stderr)
            print(kubectl(lay, "-n", ns, "describe", "pod", name, check=False)[-2500:], file=sys.stderr)
            print(kubectl(lay, "-n", ns, "logs", name, "--all-containers", "--tail=30", check=False), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localk8s", description="The one-node Kubernetes under .run/k8s/.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="build (once), start the cluster, load the images, install the operator and chart")
    p.add_argument("--no-install", action="store_true", help="only the cluster itself (no operator, no chart)")
    sub.add_parser("down", help="stop every process and container of the cluster")
    sub.add_parser("status", help="which cluster processes run")
    p = sub.add_parser("sql", help="stockpulse sql --json in a pod of the Spark image; one JSON object per row")
    p.add_argument("query")
    args = parser.parse_args(argv)
    lay = layout()
    try:
        if args.command == "up":
            try:
                lifecycle.up(lay, install=not args.no_install)
            except Exception:
                if lay.kubeconfig.exists():
                    diagnose(lay)
                raise
            print(workloads.access_notes(lay))
        elif args.command == "down":
            lifecycle.down(lay)
            say("cluster stopped")
        elif args.command == "status":
            states = lifecycle.status(lay)
            for name, running in states.items():
                print(f"{name:<24} {'running' if running else 'stopped'}")
            return 0 if all(states.values()) else 1
        elif args.command == "sql":
            sys.stdout.write(workloads.sql(lay, args.query))
    except CommandError as exc:
        say(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
