"""``python -m bot``: run the bot; ``python -m bot demo``: the offline demo; ``python -m bot
preview ...``: print a series' timeline; ``python -m bot check-config [PATH]``: check the
operator's configuration file without starting. Also the ``session-companion`` console script.

Subcommands import their modules lazily, so ``preview`` never loads Telegram and the bot's
start-up errors (a missing token) are the bot's own.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn


class _UsageError(Exception):
    """argparse found bad arguments; ``main`` prints one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    from bot import preview

    parser = _Parser(
        prog="session-companion",
        description="A Telegram companion for a series of treatment sessions. "
        "Without a subcommand it runs the bot (needs TELEGRAM_BOT_TOKEN).",
    )
    commands = parser.add_subparsers(dest="command", metavar="{demo,preview,check-config}")
    demo = commands.add_parser(
        "demo",
        help="an offline demo against a fake Bot API: no token, no network",
        description="A simulated patient and family member go through a short series against "
        "an in-process fake Bot API with an accelerated clock.",
    )
    demo.add_argument(
        "--config",
        metavar="PATH",
        help="run with this operator configuration file (e.g. examples/clinic/companion.toml)",
    )
    check = commands.add_parser(
        "check-config",
        help="check the operator's configuration file without starting the bot",
        description="Reads the file (PATH, else $COMPANION_CONFIG) and its catalog overlay, "
        "checks them as the bot does at start-up, and prints a short summary (exit 0) or every "
        "problem with its file and line (exit 2). Prints no secrets.",
    )
    check.add_argument("path", nargs="?", metavar="PATH", help="default: $COMPANION_CONFIG")
    preview.add_arguments(
        commands.add_parser(
            "preview",
            help="print every message a series would send, when and to whom",
            description=preview.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    if args.command == "preview":
        from bot import preview

        return preview.run(args)
    if args.command == "demo":
        from bot.offline.demo import main as demo

        return demo(config_path=args.config)
    if args.command == "check-config":
        return check_config(args.path)
    from bot.app import run

    return run()


def check_config(path: str | None) -> int:
    """``check-config``: 0 and a summary, or 2 and every problem (file, line, what)."""
    from bot.config import CONFIG_ENV, ConfigError, load_config, summary
    from messages import CatalogError

    # No file at all is fine (built-in defaults); the summary's first line says so.
    path = path or os.environ.get(CONFIG_ENV, "").strip() or None
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except CatalogError as exc:  # the built-in catalog itself: a broken installation
        print(f"check-config: the message catalog is broken: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
