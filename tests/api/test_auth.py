"""Admin credentials, setup code, login limiter and sessions: real argon2 (cheap parameters), real files."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
import threading
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

from app.api.auth import (
    USERNAME,
    Credentials,
    CredentialsError,
    LoginLimiter,
    Sessions,
    SetupCode,
    TooManyAttempts,
    WeakPasswordError,
    check_password_strength,
    credentials_path,
)
from app.api.auth.credentials import MAX_TOKENS
from app.api.auth.limiter import keys_of
from app.api.auth.sessions import SETUP_ALPHABET

GOOD = "correct horse battery staple"
OTHER_GOOD = "Tr0ub4dor&3-xq"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def cheap_hasher(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1, type=Type.ID)


class CountingHasher(PasswordHasher):
    """Counts argon2 computations, to see that a wrong user name still costs one."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.computations = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.computations += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.computations += 1
        return super().verify(hash, password)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return credentials_path(str(tmp_path / "state"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def creds(path: Path, clock: FakeClock) -> Credentials:
    return Credentials(path, hasher=cheap_hasher(), clock=clock)


def on_disk(path: Path) -> dict[str, object]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


# ---- password strength


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!x", "too short"),
        ("k" * 5 + "x" * 1020, "too long"),
        ("abcd\x00efghijk", "NUL"),
        ("abcd\tefghijkl", "printable"),
        ("zzzzzzzzzzzz", "one character repeated"),
        ("1234567890", "well-known"),
        ("QwertyUiop", "well-known"),
        ("abcdefghijkl", "sequence"),
        ("9876543210", "sequence"),
        ("qwertyuiopas", "sequence"),
        ("abcabcabcabc", "pattern repeated"),
        ("1a2b1a2b1a2b", "pattern repeated"),
        ("aaaaaaaaab", "too few different"),
        ("Password1234", "common word"),
        ("P@ssw0rd2024", "common word"),
        ("admin2024!!", "common word"),
        ("Edgewatch!", "common word"),
        ("adminadmin1", "common word"),
        ("admin1234567890", "common word"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password: str, reason: str) -> None:
    with pytest.raises(WeakPasswordError, match=reason):
        check_password_strength(password)


@pytest.mark.parametrize(
    "password",
    [GOOD, OTHER_GOOD, "x7#kq9!mz2Lp", "edgewatch-garage-door-2024", "Grüne Äpfel 42 sind lecker"],
)
def test_reasonable_passwords_pass(password: str) -> None:
    check_password_strength(password)  # raises if refused


def test_weak_password_error_is_a_value_error() -> None:
    assert issubclass(WeakPasswordError, ValueError)


# ---- credentials: password


def test_first_boot_has_no_password_and_reads_create_nothing(creds: Credentials, path: Path) -> None:
    assert not creds.has_password()
    assert creds.password_set_at() is None
    assert not creds.verify_password(USERNAME, GOOD)
    assert not creds.verify_password(USERNAME, "")
    assert creds.tokens() == []
    assert not path.parent.exists()


def test_set_and_verify(creds: Credentials, clock: FakeClock) -> None:
    creds.set_password(GOOD)
    assert creds.has_password()
    assert creds.password_set_at() == clock.now
    assert creds.verify_password("admin", GOOD)
    assert not creds.verify_password("admin", GOOD + " ")
    assert not creds.verify_password("admin", OTHER_GOOD)
    assert not creds.verify_password("admin", "x" * 5000)
    assert not creds.verify_password("admin", "\ud800 lone surrogate")


@pytest.mark.parametrize("user", ["Admin", "root", "", "admin "])
def test_wrong_user_fails_even_with_the_right_password(creds: Credentials, user: str) -> None:
    creds.set_password(GOOD)
    assert not creds.verify_password(user, GOOD)


def test_wrong_user_and_no_password_still_cost_a_hash(path: Path) -> None:
    hasher = CountingHasher()
    creds = Credentials(path, hasher=hasher)
    assert not creds.verify_password(USERNAME, GOOD)  # no password yet
    assert hasher.computations == 1
    creds.set_password(GOOD)
    before = hasher.computations
    assert not creds.verify_password("root", GOOD)
    assert not creds.verify_password("root", GOOD)
    assert hasher.computations == before + 2


def test_weak_password_changes_nothing(creds: Credentials, path: Path) -> None:
    with pytest.raises(WeakPasswordError):
        creds.set_password("password123")
    assert not creds.has_password()
    assert not path.exists()


def test_file_is_private_and_holds_only_an_argon2id_hash(creds: Credentials, path: Path) -> None:
    creds.set_password(GOOD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert GOOD not in text
    doc = on_disk(path)
    assert doc["version"] == 1
    password = doc["password"]
    assert isinstance(password, dict)
    assert password["hash"].startswith("$argon2id$")
    assert doc["tokens"] == []
    leftovers = sorted(p.name for p in path.parent.iterdir())
    assert leftovers == ["credentials.json", "credentials.json.lock"]  # no temporary file left behind


def test_an_existing_storage_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    Credentials(folder / "credentials.json", hasher=cheap_hasher()).set_password(GOOD)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE((folder / "credentials.json").stat().st_mode) == 0o600


def test_the_service_sees_a_password_set_by_another_process(path: Path, clock: FakeClock) -> None:
    service = Credentials(path, hasher=cheap_hasher(), clock=clock)
    service.set_password(GOOD)
    assert service.verify_password(USERNAME, GOOD)
    clock.advance(5)
    passwd = Credentials(path, hasher=cheap_hasher(), clock=clock)  # `edgewatch passwd`, another process
    passwd.set_password(OTHER_GOOD)
    assert service.verify_password(USERNAME, OTHER_GOOD)
    assert not service.verify_password(USERNAME, GOOD)
    assert service.password_set_at() == clock.now


def test_a_stale_instance_does_not_overwrite_another_ones_change(path: Path) -> None:
    service, passwd = Credentials(path, hasher=cheap_hasher()), Credentials(path, hasher=cheap_hasher())
    assert not service.has_password()  # read while the file was empty
    passwd.set_password(GOOD)
    service.create_token("home-assistant")
    assert [t.name for t in passwd.tokens()] == ["home-assistant"]
    assert passwd.verify_password(USERNAME, GOOD)
    assert service.verify_password(USERNAME, GOOD)


def test_a_password_change_revokes_every_token(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    service = Credentials(path, hasher=cheap_hasher())
    service.set_password(GOOD)
    secrets = [service.create_token(name)[1] for name in ("home-assistant", "prometheus")]
    caplog.set_level(logging.INFO)
    Credentials(path, hasher=cheap_hasher()).set_password(OTHER_GOOD)  # `edgewatch passwd`, another process
    assert service.tokens() == []
    assert all(service.verify_token(s) is None for s in secrets)
    assert "2 API token(s) revoked" in caplog.text
    assert all(s not in caplog.text for s in secrets)


def test_concurrent_writers_lose_nothing(path: Path) -> None:
    instances = [Credentials(path, hasher=cheap_hasher()), Credentials(path, hasher=cheap_hasher())]
    errors: list[BaseException] = []

    def make(worker: int) -> None:
        try:
            for n in range(3):
                instances[worker % 2].create_token(f"w{worker}-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(Credentials(path).tokens()) == 24


def test_outdated_hash_parameters_are_upgraded_on_login(path: Path) -> None:
    Credentials(path, hasher=cheap_hasher(time_cost=1)).set_password(GOOD)
    set_at = Credentials(path).password_set_at()
    upgraded = Credentials(path, hasher=cheap_hasher(time_cost=2))
    assert upgraded.verify_password(USERNAME, GOOD)
    password = on_disk(path)["password"]
    assert isinstance(password, dict)
    assert extract_parameters(password["hash"]).time_cost == 2
    assert password["set_at"] == set_at  # a re-hash is no password change: sessions stay valid
    assert upgraded.verify_password(USERNAME, GOOD)


def test_production_default_is_argon2id_with_library_defaults(path: Path) -> None:
    Credentials(path).set_password(GOOD)
    password = on_disk(path)["password"]
    assert isinstance(password, dict)
    params = extract_parameters(password["hash"])
    assert params.type is Type.ID
    defaults = PasswordHasher()
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        defaults.time_cost,
        defaults.memory_cost,
        defaults.parallelism,
    )


# ---- credentials: tokens


def test_tokens_create_verify_revoke(creds: Credentials, clock: FakeClock) -> None:
    info, secret = creds.create_token("home-assistant")
    assert re.fullmatch(r"ewt_[A-Za-z0-9_-]{43}", secret)
    assert info.name == "home-assistant"
    assert info.created_at == clock.now
    assert info.last_used_at is None
    assert creds.tokens() == [info]
    clock.advance(3)
    used = creds.verify_token(secret)
    assert used is not None
    assert used.id == info.id
    assert used.last_used_at == clock.now
    assert creds.verify_token(secret[:-1]) is None
    assert creds.verify_token(secret[4:]) is None  # without the prefix
    assert creds.verify_token("ewt_" + "A" * 43) is None
    assert creds.verify_token("") is None
    assert creds.revoke_token(info.id)
    assert creds.verify_token(secret) is None
    assert not creds.revoke_token(info.id)
    assert creds.tokens() == []


def test_tokens_are_stored_hashed_and_seen_by_a_new_instance(creds: Credentials, path: Path) -> None:
    info, secret = creds.create_token("node red")
    text = path.read_text()
    assert secret not in text
    assert secret[4:] not in text
    assert hashlib.sha256(secret.encode()).hexdigest() in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Credentials(path, hasher=cheap_hasher())
    assert [t.id for t in again.tokens()] == [info.id]
    found = again.verify_token(secret)
    assert found is not None
    assert found.name == "node red"


@pytest.mark.parametrize("name", ["", "x" * 65, "bad/name", "semi;colon", " leading", "trailing ", "tab\tname"])
def test_bad_token_names_are_refused(creds: Credentials, name: str) -> None:
    with pytest.raises(ValueError, match="token name"):
        creds.create_token(name)
    assert creds.tokens() == []


def test_token_names_are_unique(creds: Credentials) -> None:
    creds.create_token("ha")
    with pytest.raises(ValueError, match="exists already"):
        creds.create_token("ha")
    assert len(creds.tokens()) == 1


def test_at_most_32_tokens(creds: Credentials) -> None:
    for n in range(MAX_TOKENS):
        creds.create_token(f"t{n}")
    with pytest.raises(ValueError, match="at most 32"):
        creds.create_token("one-too-many")
    assert len(creds.tokens()) == MAX_TOKENS
    creds.revoke_token(creds.tokens()[0].id)
    creds.create_token("one-too-many")  # a freed slot can be used again
    assert len(creds.tokens()) == MAX_TOKENS


def test_token_use_is_written_at_most_once_a_minute(creds: Credentials, path: Path, clock: FakeClock) -> None:
    _, secret = creds.create_token("ha")

    def used_on_disk() -> object:
        tokens = on_disk(path)["tokens"]
        assert isinstance(tokens, list)
        return tokens[0]["last_used_at"]

    first = clock.now
    assert creds.verify_token(secret) is not None
    creds.flush()  # written off the request's thread: wait for it
    assert used_on_disk() == first  # the first use is saved at once
    clock.advance(10)
    mtime = path.stat().st_mtime_ns
    assert creds.verify_token(secret) is not None
    creds.flush()
    assert used_on_disk() == first
    assert path.stat().st_mtime_ns == mtime
    assert creds.tokens()[0].last_used_at == clock.now  # memory knows
    clock.advance(60)
    assert creds.verify_token(secret) is not None
    creds.flush()
    assert used_on_disk() == clock.now


def test_unsaved_token_use_survives_another_process_write(path: Path, clock: FakeClock) -> None:
    service = Credentials(path, hasher=cheap_hasher(), clock=clock)
    _, secret = service.create_token("ha")
    service.verify_token(secret)
    clock.advance(10)
    service.verify_token(secret)  # only in memory
    Credentials(path, hasher=cheap_hasher(), clock=clock).create_token("prometheus")
    assert service.tokens()[0].last_used_at == clock.now


# ---- credentials: corrupt file, wipe


def test_corrupt_file_means_no_login_logged_without_contents(
    path: Path, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    path.parent.mkdir(mode=0o700)
    path.write_text('{"version": 2, "password": {"hash": "$argon2id$SECRETHASH"}}')
    creds = Credentials(path, hasher=cheap_hasher(), clock=clock)
    with caplog.at_level(logging.ERROR, logger="app.api.auth"):
        assert not creds.has_password()
        assert not creds.verify_password(USERNAME, GOOD)
        assert creds.tokens() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per change of the file, not per request
    assert "unusable" in errors[0]
    assert str(path) in errors[0]
    assert "SECRETHASH" not in caplog.text
    with pytest.raises(CredentialsError):
        creds.create_token("ha")


def test_set_password_replaces_a_corrupt_file_keeping_a_copy(creds: Credentials, path: Path) -> None:
    path.parent.mkdir(mode=0o700)
    path.write_text("{not json")
    assert not creds.has_password()
    creds.set_password(GOOD)
    assert creds.verify_password(USERNAME, GOOD)
    assert path.with_name("credentials.json.corrupt").read_text() == "{not json"
    assert Credentials(path, hasher=cheap_hasher()).verify_password(USERNAME, GOOD)
    creds.create_token("works again")
    assert len(creds.tokens()) == 1


@pytest.mark.parametrize(
    "content",
    [
        "[]",
        '{"version": 1, "password": "plain", "tokens": []}',
        '{"version": 1, "password": null, "tokens": [{"id": "a", "name": "b", "sha256": "xyz", "created_at": 1}]}',
        '{"version": 1, "password": null, "tokens": {}}',
        "\xff\xfe",
    ],
)
def test_malformed_files_are_unusable(creds: Credentials, path: Path, content: str) -> None:
    path.parent.mkdir(mode=0o700)
    path.write_bytes(content.encode("latin-1"))
    assert not creds.has_password()
    with pytest.raises(CredentialsError):
        creds.create_token("ha")


def test_wipe_removes_password_tokens_and_copies(creds: Credentials, path: Path) -> None:
    creds.set_password(GOOD)
    _, secret = creds.create_token("ha")
    path.with_name("credentials.json.corrupt").write_text("old secrets")
    other = Credentials(path, hasher=cheap_hasher())
    assert other.has_password()
    creds.wipe()
    assert not path.exists()
    assert not path.with_name("credentials.json.corrupt").exists()
    assert not creds.has_password()
    assert creds.tokens() == []
    assert creds.verify_token(secret) is None
    assert not other.has_password()
    assert not other.verify_password(USERNAME, GOOD)
    creds.wipe()  # twice is fine
    assert not path.exists()


# ---- setup code


def test_setup_code_shape_and_randomness() -> None:
    codes = {SetupCode().code for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
        assert set(code.replace("-", "")) <= set(SETUP_ALPHABET)
    assert not set("01OIL") & set(SETUP_ALPHABET)


def test_setup_code_check_normalizes_case_spaces_and_dashes() -> None:
    setup = SetupCode()
    code = setup.code
    plain = code.replace("-", "")
    assert setup.check(code)
    assert setup.check(code.lower())
    assert setup.check(plain)
    assert setup.check(f"  {plain[:4]} {plain[4:8]}  {plain[8:]} ")
    assert setup.check(code.replace("-", " - "))
    wrong = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    assert not setup.check(wrong)
    assert not setup.check(plain[:-1])
    assert not setup.check(plain + "A")
    assert not setup.check("")
    assert not setup.check(code + " " * 60)  # absurdly long input never matches
    assert not setup.check("\ud800")


def test_setup_code_is_one_time() -> None:
    setup = SetupCode()
    setup.consume()
    assert not setup.check(setup.code)
    redeemable = SetupCode()
    assert not redeemable.redeem("nope")
    assert redeemable.redeem(redeemable.code.lower())
    assert not redeemable.redeem(redeemable.code)
    assert not redeemable.check(redeemable.code)


# ---- login limiter


def refused_for(limiter: LoginLimiter, address: str) -> float | None:
    """None after reserving an attempt for `address`, or the seconds it was told to wait."""
    try:
        limiter.reserve(address)
    except TooManyAttempts as exc:
        return exc.retry_after
    return None


def test_five_attempts_then_refused_until_the_window_frees_a_slot() -> None:
    clock = FakeClock(0.0)
    limiter = LoginLimiter(clock=clock)
    for _ in range(5):
        assert refused_for(limiter, "10.0.0.5") is None  # counted as it starts: no verify needed to count
        clock.advance(1)
    assert refused_for(limiter, "10.0.0.5") == pytest.approx(55.0)  # oldest attempt at 0 leaves at 60
    assert refused_for(limiter, "10.0.0.6") is None  # another address is not affected
    clock.now = 59.5
    assert refused_for(limiter, "10.0.0.5") == pytest.approx(0.5)  # a refusal itself counts for nothing
    clock.now = 60.0
    assert refused_for(limiter, "10.0.0.5") is None  # five within the window again: at 1, 2, 3, 4 and 60
    assert refused_for(limiter, "10.0.0.5") == pytest.approx(1.0)


def test_success_gives_the_slot_back_and_clears_the_address() -> None:
    clock = FakeClock(0.0)
    limiter = LoginLimiter(max_global=6, clock=clock)
    for _ in range(4):
        limiter.reserve("10.0.0.5")
    limiter.success(limiter.reserve("10.0.0.5"))
    assert refused_for(limiter, "10.0.0.5") is None  # its failures are forgiven
    for n in range(5):  # 1 + 5 = 6 attempts in all, not 4 + 1 + 1 + 5: the success is not a global failure
        assert refused_for(limiter, f"10.0.1.{n}") is None
    assert refused_for(limiter, "10.0.0.5") is not None  # now it is under attack, and 10.0.0.5 failed once


def test_ipv6_counts_by_address_and_during_an_attack_by_64() -> None:
    clock = FakeClock(0.0)
    limiter = LoginLimiter(max_global=10, clock=clock)
    for _ in range(5):
        assert refused_for(limiter, "2001:db8:1:2::1") is None
    assert refused_for(limiter, "2001:db8:1:2::1") is not None
    # The house's other devices share its /64: one host's failures do not lock them out.
    assert refused_for(limiter, "2001:db8:1:2::2") is None
    for n in range(4):
        assert refused_for(limiter, f"2001:db8:1:2::{n + 10:x}") is None  # ten in all: now an attack
    # During it, a /64 is one source: addresses rotated within it are not fresh starts ...
    assert refused_for(limiter, "2001:db8:1:2:dead:beef:0:1") == pytest.approx(60.0)
    # ... while another /64 (and IPv4, also as mapped by a dual-stack socket) still get one attempt.
    assert refused_for(limiter, "2001:db8:1:3::1") is None
    assert refused_for(limiter, "::ffff:10.0.0.1") is None
    assert refused_for(limiter, "10.0.0.1") is not None
    assert keys_of("::ffff:10.0.0.1") == ("10.0.0.1", "10.0.0.1")
    assert keys_of("2001:db8::7") == ("2001:db8::7", "2001:db8::/64")


def test_global_budget_spent_means_one_attempt_per_fresh_address() -> None:
    clock = FakeClock(0.0)
    limiter = LoginLimiter(max_failures=5, max_global=10, clock=clock)
    limiter.reserve("10.0.0.9")  # the owner mistyped once, at 0
    clock.now = 20.0
    for n in range(10):
        limiter.reserve(f"10.0.1.{n}")  # ten addresses guess at 20: the budget is spent until 80
    clock.now = 21.0
    # One failure would leave four attempts; during the attack it waits for that failure to age out (at 60).
    assert refused_for(limiter, "10.0.0.9") == pytest.approx(39.0)
    # A fresh address may try, once — the owner elsewhere is not locked out; an attacker gets one guess, not five.
    assert refused_for(limiter, "10.0.2.1") is None
    assert refused_for(limiter, "10.0.2.1") == pytest.approx(59.0)  # until the attack's attempts age out at 80
    clock.now = 60.0
    assert refused_for(limiter, "10.0.0.9") is None  # its failure aged out
    clock.now = 200.0  # all quiet: normal rules, five each
    for _ in range(5):
        assert refused_for(limiter, "10.0.2.1") is None
    assert refused_for(limiter, "10.0.2.1") == pytest.approx(60.0)


def test_limiter_memory_is_bounded() -> None:
    limiter = LoginLimiter(max_global=1000, max_addresses=3, clock=FakeClock(0.0))
    for _ in range(5):
        limiter.reserve("10.0.0.1")
    assert refused_for(limiter, "10.0.0.1") is not None
    for address in ("10.0.0.2", "10.0.0.3"):
        limiter.reserve(address)
    assert refused_for(limiter, "10.0.0.1") is not None  # three addresses: all kept (and 10.0.0.1 tried last)
    for address in ("10.0.0.4", "10.0.0.5"):
        limiter.reserve(address)
    assert refused_for(limiter, "10.0.0.1") is not None  # 10.0.0.2 and 10.0.0.3 went first
    for address in ("10.0.0.6", "10.0.0.7", "10.0.0.8"):
        limiter.reserve(address)
    assert refused_for(limiter, "10.0.0.1") is None  # the least recently tried was forgotten


def test_limiter_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LoginLimiter(max_failures=0)
    with pytest.raises(ValueError, match="window"):
        LoginLimiter(window_s=0)


# ---- sessions


def test_sessions_are_random_and_revocable() -> None:
    sessions = Sessions()
    a, b = sessions.create(), sessions.create()
    assert a != b
    assert len(a) >= 43
    assert sessions.valid(a)
    assert sessions.valid(b)
    assert not sessions.valid("made-up")
    sessions.revoke(a)
    assert not sessions.valid(a)
    assert sessions.valid(b)
    sessions.revoke_all()
    assert not sessions.valid(b)


def test_idle_expiry_restarts_on_use() -> None:
    clock = FakeClock()
    sessions = Sessions(idle_s=100, max_age_s=10_000, clock=clock)
    sid = sessions.create()
    clock.advance(99)
    assert sessions.valid(sid)
    clock.advance(99)
    assert sessions.valid(sid)  # used 99 s ago
    clock.advance(100)
    assert not sessions.valid(sid)
    clock.now -= 150  # even if the clock steps back, a dropped session stays dropped
    assert not sessions.valid(sid)


def test_absolute_expiry_despite_activity() -> None:
    clock = FakeClock()
    sessions = Sessions(idle_s=100, max_age_s=250, clock=clock)
    sid = sessions.create()
    for _ in range(4):
        clock.advance(60)
        assert sessions.valid(sid)
    clock.advance(10)  # 250 s old
    assert not sessions.valid(sid)


def test_sessions_older_than_the_password_are_dropped() -> None:
    clock = FakeClock(1000.0)
    sessions = Sessions(clock=clock)
    sid = sessions.create()
    assert sessions.valid(sid, not_before=1000.0)
    assert sessions.valid(sid, not_before=None)
    assert not sessions.valid(sid, not_before=1000.5)
    assert not sessions.valid(sid)  # dropped, not just refused once


def test_least_recently_used_session_is_evicted() -> None:
    clock = FakeClock()
    sessions = Sessions(max_sessions=3, clock=clock)
    first, second, third = sessions.create(), sessions.create(), sessions.create()
    clock.advance(1)
    assert sessions.valid(first)
    fourth = sessions.create()
    assert not sessions.valid(second)
    assert all(sessions.valid(s) for s in (first, third, fourth))


def test_expired_sessions_are_dropped_before_live_ones_are_evicted() -> None:
    clock = FakeClock()
    sessions = Sessions(idle_s=100, max_age_s=10, max_sessions=2, clock=clock)
    old = sessions.create()
    clock.advance(5)
    live = sessions.create()
    clock.advance(4)
    assert sessions.valid(old)  # now the more recently used one
    clock.advance(3)  # `old` is past its absolute age, `live` is not
    sessions.create()
    assert sessions.valid(live)
