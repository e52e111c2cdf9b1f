"""``python -m bot``: run the bot; ``python -m bot demo``: the offline demo; ``python -m bot
preview ...``: print a series' timeline; ``python -m bot check-config [PATH]``: check the
operator's configuration file without starting; ``python -m bot stats`` and ``python -m bot backup
PATH``: the operator's tools. Also the ``session-companion`` console script.

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
    from bot import operator_tools, preview

    parser = _Parser(
        prog="session-companion",
        description="A Telegram companion for a series of treatment sessions. "
        "Without a subcommand it runs the bot (needs TELEGRAM_BOT_TOKEN).",
    )
    _add_webhook_arguments(parser)
    commands = parser.add_subparsers(
        dest="command", metavar="{demo,preview,check-config,stats,backup}"
    )
    demo = commands.add_parser(
        "demo",
        help="an offline demo against a fake Bot API: no token, no network",
        description="A simulated patient and family member go through a short series against "
        "an in-process fake Bot API with an accelerated clock.",
    )
    demo.add_argument(
        "--lang",
        choices=("en", "es"),
        default="en",
        help="the people's language and the transcript's (default: en)",
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
    operator_tools.add_db_argument(
        commands.add_parser(
            "stats",
            help="counts only: people, active series, what is due, last week's outcomes, lag",
            description="Counts of the running bot's database, never a name: the same as an "
            "admin's /stats. Safe while the bot runs.",
        )
    )
    backup = commands.add_parser(
        "backup",
        help="copy the database to PATH with SQLite's backup API (safe while the bot runs)",
        description="A consistent copy of the database, taken while the bot runs (WAL mode), "
        "written 0600 and renamed into place when complete.",
    )
    backup.add_argument("path", metavar="PATH", help="where the copy goes (replaced if there)")
    operator_tools.add_db_argument(backup)
    return parser


def _add_webhook_arguments(parser: argparse.ArgumentParser) -> None:
    """Running the bot by webhook instead of long polling (over the config file's settings).
    Defaults are applied in ``bot.webhook``, so building the parser loads no Telegram code."""
    group = parser.add_argument_group(
        "webhook mode", "take updates by webhook instead of long polling (see README)"
    )
    group.add_argument(
        "--webhook-url", metavar="URL", help="the public https URL Telegram posts updates to"
    )
    group.add_argument(
        "--webhook-secret-env",
        metavar="NAME",
        help="environment variable holding Telegram's secret token (default: "
        "COMPANION_WEBHOOK_SECRET); never on the command line, where other users could read it",
    )
    group.add_argument(
        "--listen", metavar="ADDRESS", help="address the webhook server binds (127.0.0.1)"
    )
    group.add_argument("--port", type=int, help="port the webhook server binds (8443)")


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
    if args.command == "stats":
        from bot import operator_tools

        return operator_tools.stats(args)
    if args.command == "backup":
        from bot import operator_tools

        return operator_tools.run_backup(args)
    if args.command == "demo":
        from bot.offline.demo import main as demo

        return demo(config_path=args.config, lang=args.lang)
    if args.command == "check-config":
        return check_config(args.path)
    from bot.app import run
    from bot.webhook import SECRET_ENV, WebhookFlags

    return run(
        WebhookFlags(
            url=args.webhook_url,
            secret_env=args.webhook_secret_env or SECRET_ENV,
            listen=args.listen,
            port=args.port,
        )
    )


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
