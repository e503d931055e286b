"""The ``heater`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from heater.auth.tokens import Role
from heater.cli import image, template
from heater.cli.cleanup import DEFAULT_GRACE_SECONDS
from heater.cli.serve import default_workers
from heater.client.progress import Progress
from heater.config import Config
from heater.errors import HeaterError
from heater.git.housekeeping import DEFAULT_MIN_PACKS
from heater.names import is_host_port
from heater.registry import Registry
from heater.wiring import build_catalog, build_registry, clean_up, repack_all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heater", description=__doc__)
    parser.add_argument("--version", action="version",
                        version=f"heater {metadata.version('heater')}")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument("--data-dir",
                          help="data directory (default: $HEATER_DATA_DIR, the config "
                               "file's data_dir, or ./repos)")
    data_dir.add_argument("--config", metavar="FILE",
                          help="TOML config file (default: $HEATER_CONFIG, or none)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", parents=[data_dir], help="run the HTTP server")
    serve.add_argument("--bind", default="127.0.0.1:8080", type=bind_address,
                       help="HOST:PORT, or PORT alone for 127.0.0.1:PORT "
                            "(default 127.0.0.1:8080)")
    serve.add_argument("--workers", type=int, default=default_workers(),
                       help="worker processes (default: cores + 1, at most 4)")

    commands.add_parser("reindex", parents=[data_dir],
                        help="rebuild the catalog index from the repositories")

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", parents=[data_dir],
                                       help="create a token; its secret is printed last")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=["reader", "writer", "admin"])
    create.add_argument("--namespace", help="limit the token to one namespace")
    token_commands.add_parser("list", parents=[data_dir], help="list tokens (never secrets)")
    revoke = token_commands.add_parser("revoke", parents=[data_dir], help="revoke a token")
    revoke.add_argument("name")
    template.add_commands(commands)
    image.add_commands(commands)
    cleanup = commands.add_parser(
        "cleanup", parents=[data_dir],
        help="delete what interrupted pushes and uploads left behind")
    cleanup.add_argument("--older-than", type=float, default=DEFAULT_GRACE_SECONDS,
                         metavar="SECONDS",
                         help=f"only entries untouched this long (default {DEFAULT_GRACE_SECONDS})")
    cleanup.add_argument("--repack", action="store_true",
                         help="also rewrite each repository's packs into one (with a bitmap)")
    cleanup.add_argument("--min-packs", type=int, default=DEFAULT_MIN_PACKS, metavar="N",
                         help=f"with --repack: only repositories with N packs or more "
                              f"(default {DEFAULT_MIN_PACKS})")
    return parser


def bind_address(text: str) -> str:
    """``--bind``: ``HOST:PORT`` (``[::1]:PORT`` for IPv6), or a port alone,
    which means the default host; anything else is refused before the
    server starts, naming the forms that work."""
    if text.startswith("unix:"):  # a socket path, as gunicorn takes it
        return text
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = "127.0.0.1", text
    if port.isdigit() and int(port) <= 65535 and host and is_host_port(f"{host}:{port}"):
        return f"{host}:{port}"
    raise argparse.ArgumentTypeError(
        f"{text!r} is not HOST:PORT or PORT (for example 127.0.0.1:8080, 0.0.0.0:8080, "
        "[::1]:8080 or 8080)")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C: the user knows; no traceback
        print("heater: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "image":  # a client of a server: no data directory
        return image.run(args)
    if args.command == "template":
        return template.run(args)
    try:
        config = Config.load(args.data_dir, args.config)
        if args.command == "serve":
            if args.workers < 1:
                print("heater: --workers must be at least 1", file=sys.stderr)
                return 2
            from heater.cli.serve import serve

            serve(config, args.bind, args.workers)
            return 0
        registry = build_registry(config)  # creates nothing until a store is used
        if args.command == "token":
            print(f"data directory: {config.data_dir}", file=sys.stderr)
            return _token(registry, args)
        if not config.data_dir.is_dir():
            # A mistyped path would otherwise get an empty index of its own.
            print(f"heater: no data directory at {config.data_dir}; give --data-dir or "
                  "$HEATER_DATA_DIR (heater serve creates one)", file=sys.stderr)
            return 1
        if args.command == "cleanup":
            removed = clean_up(registry, args.older_than).removed
            print(f"removed {len(removed)} leftovers of finished or interrupted work"
                  f"{':' if removed else ''}", file=sys.stderr)
            root = registry.layout.root
            for path in removed:  # what they were: the names say (upload-, hook-, ...)
                # An object store's segments are named as the store names them.
                print(f"  {path.relative_to(root) if path.is_relative_to(root) else path}",
                      file=sys.stderr)
            if args.repack:
                if args.min_packs < 1:
                    print("heater: --min-packs must be at least 1", file=sys.stderr)
                    return 2
                repacked = repack_all(registry, args.min_packs)
                print(f"repacked {len(repacked)} repositories"
                      f"{':' if repacked else ''}", file=sys.stderr)
                for repo in repacked:
                    print(f"  {repo}", file=sys.stderr)
            return 0
        if args.command == "reindex":
            count = build_catalog(registry, config).rebuild(progress=ReindexProgress())
            print(f"catalog index rebuilt from {count} repositories", file=sys.stderr)
            return 0
    except HeaterError as exc:
        print(f"heater: {exc.message}", file=sys.stderr)
        return 1
    return 2


class ReindexProgress:
    """A progress bar of the repositories ``heater reindex`` has read."""

    def __init__(self) -> None:
        self.bar: Progress | None = None

    def start(self, total: int) -> None:
        self.bar = Progress("reindex", total, unit="repositories")

    def read(self) -> None:
        assert self.bar is not None
        self.bar.advance(1)


def _token(registry: Registry, args: argparse.Namespace) -> int:
    if args.token_command == "create":
        secret = registry.tokens.create(args.name, Role.parse(args.role), args.namespace)
        scope = args.namespace or "every namespace"
        print(f"token {args.name!r} created: {args.role} on {scope}", file=sys.stderr)
        print("the secret is shown once; use it as the HTTP Basic password or a Bearer token",
              file=sys.stderr)
        print(secret)
    elif args.token_command == "list":
        records = registry.tokens.list()
        if not records:
            print("no tokens", file=sys.stderr)
        else:
            print("NAME\tROLE\tNAMESPACE\tCREATED")
        for record in records:
            print(f"{record.name}\t{record.role}\t{record.namespace or '*'}\t{record.created_at}")
    elif args.token_command == "revoke":
        registry.tokens.revoke(args.name)
        print(f"token {args.name!r} revoked", file=sys.stderr)
    return 0
