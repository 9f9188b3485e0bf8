"""`gureum keys create|list|delete`, run through the real command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from gureum.cli.main import app
from gureum.store.keys import KeyStore

runner = CliRunner()


def keys(data_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["keys", *args, "--data-dir", str(data_dir)])
    return result.exit_code, result.stdout, result.stderr


def test_create_list_delete(tmp_path: Path) -> None:
    code, out, err = keys(tmp_path, "create", "--description", "laptop", "--json")
    assert code == 0, err
    created = json.loads(out)
    key_id, secret = created["accessKeyId"], created["secretAccessKey"]
    assert key_id.startswith("GKIA") and len(key_id) == 20 and key_id.isupper()
    assert len(secret) == 40

    code, out, _ = keys(tmp_path, "list", "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert listed["id"] == key_id and listed["description"] == "laptop"
    assert secret not in out

    code, out, _ = keys(tmp_path, "list")
    assert code == 0 and key_id in out and "laptop" in out and secret not in out

    code, out, _ = keys(tmp_path, "delete", key_id)
    assert code == 0 and key_id in out
    assert json.loads(keys(tmp_path, "list", "--json")[1]) == []


def test_create_prints_the_secret_once_in_credentials_file_form(tmp_path: Path) -> None:
    code, out, err = keys(tmp_path, "create")
    assert code == 0
    lines = dict(line.split(" = ") for line in out.splitlines())
    assert lines["aws_access_key_id"].startswith("GKIA")
    assert len(lines["aws_secret_access_key"]) == 40
    assert "shown only now" in err
    with KeyStore(tmp_path) as store:
        assert store.secret_for(lines["aws_access_key_id"]) == lines["aws_secret_access_key"]


def test_the_secret_is_stored_encrypted_and_its_key_is_private(tmp_path: Path) -> None:
    secrets = [json.loads(keys(tmp_path, "create", "--json")[1])["secretAccessKey"]]
    secrets.append(json.loads(keys(tmp_path, "create", "--json")[1])["secretAccessKey"])
    files = [p for p in tmp_path.iterdir() if p.name.startswith("keys.db")]
    assert files
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, path.name
    assert stat.S_IMODE(os.stat(tmp_path / "keys.secret").st_mode) == 0o600


def test_the_database_alone_gives_no_secret(tmp_path: Path) -> None:
    with KeyStore(tmp_path / "a") as store:
        key_id, _ = store.create()
    copy = tmp_path / "b"
    copy.mkdir()
    (copy / "keys.db").write_bytes((tmp_path / "a" / "keys.db").read_bytes())
    with KeyStore(copy) as stolen:  # a fresh keys.secret: not the one that encrypted it
        assert [key.id for key in stolen.list()] == [key_id]
        assert stolen.secret_for(key_id) is None


def test_deleting_an_unknown_key_exits_1(tmp_path: Path) -> None:
    code, _, err = keys(tmp_path, "delete", "GKIA0000000000000000")
    assert code == 1
    assert "no access key GKIA0000000000000000" in err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert keys(tmp_path, "delete")[0] == 2
    assert keys(tmp_path, "create", "--bogus")[0] == 2


def test_the_installed_command_uses_the_servers_data_dir(tmp_path: Path) -> None:
    env = {**os.environ, "GUREUM_DATA_DIR": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gureum", "keys", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    created = run("create", "--json")
    assert created.returncode == 0, created.stderr
    key_id = json.loads(created.stdout)["accessKeyId"]
    assert (tmp_path / "keys.db").exists()
    assert key_id in run("list").stdout
    assert run("delete", key_id).returncode == 0
    assert run("delete", key_id).returncode == 1
