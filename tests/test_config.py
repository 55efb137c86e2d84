"""The configuration contract: typed settings, errors that name file and key, secrets kept out."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway.cli import main as cli_main
from gateway.config import ConfigError, load, parse
from gateway.demo import DEMO_CONFIG

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[gateway]
listen = "127.0.0.1:8100"
token_secret = "0123456789abcdef0123"

[[backends]]
name = "fs1"
type = "freeswitch"
password = "ClueCon"

[[accounts]]
id = "a0000000000000000000000000000001"
name = "Acme"
realm = "acme.example.com"
"""


def _errors(text: str, path: str = "x.toml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(tomllib.loads(text), path)
    return info.value.errors


def test_demo_config_loads_with_every_dialect() -> None:
    s = load(DEMO_CONFIG)
    assert {b.type for b in s.backends} == {"freeswitch", "asterisk"}
    assert set(s.dialects) == {"kazoo", "webitel", "mor", "callflow"}
    assert s.dialect("mor").api_secret == "456789"
    assert s.gateway.port == 8000


def test_minimal_config_defaults() -> None:
    s = parse(tomllib.loads(MINIMAL), "m.toml")
    fs = s.backends[0]
    assert (fs.host, fs.port, fs.server_id) == ("127.0.0.1", 8021, 1)
    assert s.accounts[0].number == 1  # assigned in config order
    assert s.gateway.port == 8100


def test_error_names_file_and_list_key() -> None:
    text = MINIMAL + (
        '\n[[backends]]\nname = "fs2"\ntype = "freeswitch"\nport = "abc"\npassword = "x"\n'
    )
    assert 'x.toml: backends[1].port: expected an integer, got "abc"' in _errors(text)


def test_all_errors_reported_at_once() -> None:
    text = MINIMAL.replace('type = "freeswitch"', 'type = "yate"') + (
        '\n[[users]]\nid = "nothex"\naccount = "a0000000000000000000000000000009"\n'
        'username = "u"\nrole = "king"\ncolour = "red"\n'
    )
    errors = _errors(text)
    joined = "\n".join(errors)
    assert 'backends[0].type: expected one of freeswitch, asterisk, got "yate"' in joined
    assert 'users[0].id: malformed value "nothex"' in joined
    assert "users[0].role: expected one of" in joined
    assert "users[0].colour: unknown key" in joined
    assert 'users[0].account: unknown account "a0000000000000000000000000000009"' in joined
    assert all(e.startswith("x.toml: ") for e in errors)


def test_unknown_references_and_dialect_keys() -> None:
    text = MINIMAL + (
        '\n[[devices]]\nid = "d0000000000000000000000000000001"\n'
        'account = "a0000000000000000000000000000001"\nowner = "b0000000000000000000000000000009"\n'
        '\n[dialects.kazoo]\nsystem_wide_channels_list = "yes"\n'
        '\n[dialects.skype]\nenabled = true\n'
    )
    joined = "\n".join(_errors(text))
    assert 'devices[0].owner: unknown user "b0000000000000000000000000000009"' in joined
    assert 'dialects.kazoo.system_wide_channels_list: expected true or false, got "yes"' in joined
    assert "dialects.skype: unknown dialect" in joined


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.replace('password = "ClueCon"', 'password_env = "CG_TEST_FS_PW"')
    assert "backends[0].password_env: environment variable CG_TEST_FS_PW is not set" in "\n".join(
        _errors(text)
    )
    monkeypatch.setenv("CG_TEST_FS_PW", "from-env-secret")
    s = parse(tomllib.loads(text), "m.toml")
    assert s.backends[0].options.password == "from-env-secret"
    assert "from-env-secret" not in repr(s)


@pytest.mark.parametrize("line", [
    'token_secret = ""', 'token_secret = "0123456789abcde"', "", 'token_secret_env = "CG_TEST_TS"',
])
def test_token_secret_required_at_least_16(monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    """Empty (literal or from an empty variable), absent or short: one error, never a start."""
    monkeypatch.setenv("CG_TEST_TS", "")
    text = MINIMAL.replace('token_secret = "0123456789abcdef0123"', line)
    assert _errors(text) == ["x.toml: gateway.token_secret: required, at least 16 characters"]


def test_token_secret_of_16_characters_and_unset_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_TS", "0123456789abcdef")
    text = MINIMAL.replace('token_secret = "0123456789abcdef0123"',
                           'token_secret_env = "CG_TEST_TS"')
    assert parse(tomllib.loads(text), "m.toml").gateway.token_secret == "0123456789abcdef"
    monkeypatch.delenv("CG_TEST_TS")
    assert _errors(text) == [  # the unset variable is the one problem named
        "x.toml: gateway.token_secret_env: environment variable CG_TEST_TS is not set"]


def test_secrets_never_in_repr() -> None:
    s = load(DEMO_CONFIG)
    text = repr(s)
    for secret in ("ClueCon", "demo-ami-secret", "demo-alice", "456789", "token-carol",
                   "demo-token-secret"):
        assert secret not in text


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\nlisten=1\n")
    with pytest.raises(ConfigError) as info:
        load(bad)
    assert info.value.errors[0].startswith(f"{bad}: invalid TOML")


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["check-config", str(DEMO_CONFIG)]) == 0
    assert capsys.readouterr().out.strip() == "ok"
    bad = tmp_path / "c.toml"
    bad.write_text(MINIMAL.replace('password = "ClueCon"', 'password = "ClueCon"\nport = "abc"'))
    assert cli_main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f'{bad}: backends[0].port: expected an integer, got "abc"' in err
    assert "ClueCon" not in err


def test_check_config_console_script_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[[backends]]\nname = 1\n")
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "check-config", str(bad)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert "backends[0].name: expected a string, got 1" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------- dialects and backends parse their own keys

def _with_dialect(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str,
                  init: str) -> None:
    """A dialect package `name` beside the shipped ones, found the way they are found."""
    import dialects

    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text(init)
    (tmp_path / name / "settings.py").write_text("def parse(section):\n    return None\n")
    monkeypatch.setattr(dialects, "__path__", [*dialects.__path__, str(tmp_path)])
    for module in (f"dialects.{name}", f"dialects.{name}.settings"):
        monkeypatch.delitem(sys.modules, module, raising=False)


def test_a_dialect_that_cannot_be_imported_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _with_dialect(monkeypatch, tmp_path, "brokenish", "import no_such_library_for_callgate\n")
    errors = _errors(MINIMAL + "\n[dialects.brokenish]\nenabled = true\ncolour = 1\n")
    assert errors == ["x.toml: dialects.brokenish: cannot load the dialect (ModuleNotFoundError: "
                      "No module named 'no_such_library_for_callgate')"]


def test_dialects_are_the_packages_found(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    _with_dialect(monkeypatch, tmp_path, "extraish", "")
    s = parse(tomllib.loads(MINIMAL + "\n[dialects.extraish]\nlisten = \"127.0.0.1:0\"\n"), "m")
    assert s.dialects["extraish"].enabled
    joined = "\n".join(_errors(MINIMAL + "\n[dialects.skype]\n"))
    assert "dialects.skype: unknown dialect (known: callflow, extraish, kazoo, mor, webitel)" \
        in joined


def test_backend_kind_keys_belong_to_their_kind() -> None:
    asterisk = MINIMAL + (
        '\n[[backends]]\nname = "ast1"\ntype = "asterisk"\nusername = "gw"\nsecret = "s3cret!"\n'
        'trunks = ["carrier2"]\nhold_extension = "hold"\n'
    )
    s = parse(tomllib.loads(asterisk), "m.toml")
    fs, ast = s.backends
    assert (fs.port, fs.recordings_dir, fs.options.password) == (
        8021, "/var/lib/callgate/recordings", "ClueCon")
    assert (ast.port, ast.recordings_dir, ast.options.username, ast.options.trunks,
            ast.options.hold_extension, ast.options.hold_context) == (
        5038, "", "gw", ("carrier2",), "hold", "default")
    assert "s3cret!" not in repr(s) and "ClueCon" not in repr(s)
    # a key of the other kind is a typo for this one
    joined = "\n".join(_errors(MINIMAL.replace('password = "ClueCon"',
                                               'password = "ClueCon"\ntrunks = ["x"]')))
    assert "backends[0].trunks: unknown key" in joined
    joined = "\n".join(_errors(asterisk.replace('secret = "s3cret!"\n', "")))
    assert "backends[1].secret: required for an asterisk backend" in joined
