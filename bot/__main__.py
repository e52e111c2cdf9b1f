"""``python -m bot``: run the bot; ``python -m bot demo``: the offline demo; ``python -m bot
preview ...``: print a series' timeline. Also the ``session-companion`` console script.

Subcommands import their modules lazily, so ``preview`` never loads Telegram and the bot's
start-up errors (a missing token) are the bot's own.
"""

from __future__ import annotations

import argparse
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
    commands = parser.add_subparsers(dest="command", metavar="{demo,preview}")
    demo_parser = commands.add_parser(
        "demo",
        help="an offline demo against a fake Bot API: no token, no network",
        description="A simulated patient and family member go through a short series against "
        "an in-process fake Bot API with an accelerated clock.",
    )
    demo_parser.add_argument(
        "--lang",
        choices=("en", "es"),
        default="en",
        help="the people's language and the transcript's (default: en)",
    )
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

        return demo(args.lang)
    from bot.app import run

    return run()


if __name__ == "__main__":
    sys.exit(main())
