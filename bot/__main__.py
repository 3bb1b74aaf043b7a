"""Entry point: `python -m bot <command>`."""

import sys

from config import ConfigError


def main() -> None:
    from bot.cli import cli

    try:
        cli.main(prog_name="python -m bot", standalone_mode=True)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
