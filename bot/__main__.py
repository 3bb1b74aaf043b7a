"""Entry point: `python -m bot <command>`."""

import sys

from config import ConfigError, instance_dir_setting


def main() -> None:
    from services.metrics import prepare_process

    prepare_process(instance_dir_setting())  # before any metric exists (prometheus-client reads it once)
    from sqlalchemy.exc import InterfaceError, OperationalError

    from bot.cli.main import cli, database_reason

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
