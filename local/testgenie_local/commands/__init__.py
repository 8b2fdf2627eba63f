"""The `testgenie` subcommands, one `configure_<command>(subparsers)` each.

A new subcommand: write `configure_<name>(sub: Subparsers) -> None` (it adds its parser and sets
`func=` to a `cmd_<name>(args) -> int`) in the module of its kind, and list it in
`testgenie_local.cli.COMMANDS`.
"""
