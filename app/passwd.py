"""`edgewatch passwd`: sets the admin password; first boot has none and there is no default (SPEC: CLI).

It may run while the service runs: the service re-reads the credentials file when it changes.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from app.api.auth import USERNAME, Credentials, WeakPasswordError, credentials_path
from app.api.auth.passwords import MAX_PASSWORD_CHARS
from app.config.demo import config_or_report

EXIT_OK, EXIT_FATAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def cmd_passwd(args: argparse.Namespace) -> int:
    config_file: Path | None = args.config
    config = config_or_report(config_file)
    if config is None:
        return EXIT_BAD_INPUT
    try:
        password = _from_stdin() if args.stdin else _from_terminal()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    if password is None:
        return EXIT_BAD_INPUT
    path = credentials_path(config.storage.path)
    try:
        revoked = Credentials(path).set_password(password)
    except WeakPasswordError as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}", EXIT_FATAL)
    print(f"password set for {USERNAME} ({path})")
    if revoked:
        print(f"{revoked} API token(s) revoked with the old password: give your hubs new ones")
    return EXIT_OK


def _from_stdin() -> str | None:
    """One line; only its line break is removed (spaces may be part of a passphrase)."""
    try:
        line = sys.stdin.readline(MAX_PASSWORD_CHARS + 3)  # bounded; anything longer is refused as too long
    except UnicodeDecodeError:
        _fail("standard input is not text in the locale's encoding", EXIT_BAD_INPUT)
        return None
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        _fail("no password on standard input", EXIT_BAD_INPUT)
        return None
    return password


def _from_terminal() -> str | None:
    try:
        first = getpass.getpass("New admin password: ")
        second = getpass.getpass("Repeat: ")
    except EOFError:
        _fail("no password given", EXIT_BAD_INPUT)
        return None
    if first != second:
        _fail("the passwords do not match; nothing changed", EXIT_BAD_INPUT)
        return None
    return first


def _fail(message: str, code: int) -> int:
    print(f"edgewatch passwd: {message}", file=sys.stderr)
    return code
