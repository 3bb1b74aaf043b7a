"""Entry point: `python -m bot <command>`."""

import sys

from config import ConfigError


def main() -> None:
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.cli import cli, database_reason

    try:
        cli.main(prog_name="python -m bot", standalone_mode=True)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    except (OperationalError, InterfaceError) as error:  # the database is unreachable or refuses us
        print(f"database error: {database_reason(error)} (check DATABASE_URL)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
