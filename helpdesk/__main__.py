"""The `helpdesk` console script (and `python -m helpdesk`)."""

from __future__ import annotations

from flask.cli import FlaskGroup

from helpdesk import create_app


def main() -> None:
    """Entry point of the `helpdesk` console script."""
    cli = FlaskGroup(
        create_app=lambda: create_app(),
        add_default_commands=True,
        help="helpdesk: omnichannel support with an embedded CRM.",
    )
    cli.main(prog_name="helpdesk")


if __name__ == "__main__":
    main()
