"""Admin login: no default password (ETSI EN 303 645 5.1) — until `edgewatch passwd` or the
one-time setup code sets one, nobody can log in.

- `passwords`: what counts as too weak, and why;
- `credentials`: the password hash and API tokens in `<storage.path>/credentials.json` (0600),
  shared safely with the `edgewatch passwd` process; reads never lock, wait or write;
- `credfile`: that file's format, validated with pydantic, and reading it;
- `limiter`: how many login and setup-code guesses get through, counted before they are verified;
- `sessions`: the setup code and login sessions (memory only);
- `setupfile`: under systemd, the setup code's 0600 copy in the runtime directory for root's console helper.
"""

from app.api.auth.credentials import Credentials, CredentialsError, TokenInfo, credentials_path
from app.api.auth.limiter import Attempt, LoginLimiter, TooManyAttempts
from app.api.auth.passwords import USERNAME, WeakPasswordError, check_password_strength
from app.api.auth.sessions import Sessions, SetupCode
from app.api.auth.setupfile import remove_setup_code, setup_code_path, write_setup_code

__all__ = [
    "USERNAME",
    "Attempt",
    "Credentials",
    "CredentialsError",
    "LoginLimiter",
    "Sessions",
    "SetupCode",
    "TokenInfo",
    "TooManyAttempts",
    "WeakPasswordError",
    "check_password_strength",
    "credentials_path",
    "remove_setup_code",
    "setup_code_path",
    "write_setup_code",
]
