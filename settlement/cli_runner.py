"""Run a click command group so every failure ends in one clear line and a non-zero exit code."""

from __future__ import annotations

import sys

import click

from settlement.errors import SettlementError

EXIT_OPERATING_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERRUPTED = 130


def run_cli(group: click.Group, program: str, args: list[str] | None = None) -> int:
    """Run ``group``; usage and operating errors print ``<program>: error: <reason>`` to stderr."""
    try:
        group.main(args=args, prog_name=program, standalone_mode=False)
    except click.UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        return _fail(program, f"{error.format_message()}{hint}", EXIT_USAGE_ERROR)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except (click.Abort, KeyboardInterrupt):
        return _fail(program, "interrupted", EXIT_INTERRUPTED)
    except click.ClickException as error:
        return _fail(program, error.format_message(), EXIT_OPERATING_ERROR)
    except (SettlementError, ValueError, OSError) as error:
        return _fail(program, str(error), EXIT_OPERATING_ERROR)
    return 0


def _fail(program: str, reason: str, code: int) -> int:
    lines = reason.strip().splitlines()
    print(f"{program}: error: {lines[0] if lines else 'failed'}", file=sys.stderr)
    return code
