"""Settings: declared once, parsed by type, refused with a ``ConfigError`` naming the culprit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corral.config import Settings, documented, load_settings
from corral.errors import ConfigError


def test_defaults_come_from_the_declarations() -> None:
    assert load_settings({}) == Settings(providers=load_settings({}).providers)
    assert {item.env for item in documented()} >= {"CORRAL_PORT", "CORRAL_LEASE_TTL", "CORRAL_SANDBOX_MODE"}


def test_values_are_parsed_by_the_declared_type() -> None:
    settings = load_settings(
        {
            "CORRAL_PORT": "9001",
            "CORRAL_LEASE_TTL": "2.5",
            "CORRAL_EGRESS": "0",
            "CORRAL_SQLITE_SYNCHRONOUS": "full",
            "CORRAL_SANDBOX_MODE": "eager",
            "CORRAL_API_KEY": "",
        }
    )
    assert (settings.port, settings.lease_ttl_seconds, settings.egress_enabled) == (9001, 2.5, False)
    assert (settings.sqlite_synchronous, settings.sandbox_mode, settings.api_key) == ("FULL", "eager", None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CORRAL_PORT": "eighty"}, "CORRAL_PORT='eighty': expected a value of type int"),
        ({"CORRAL_EGRESS": "maybe"}, "CORRAL_EGRESS='maybe': expected 1 or 0"),
        ({"CORRAL_SANDBOX_MODE": "lazzy"}, "CORRAL_SANDBOX_MODE='lazzy': expected one of lazy, speculative, eager"),
        ({"CORRAL_SQLITE_SYNCHRONOUS": "OFF"}, "CORRAL_SQLITE_SYNCHRONOUS='OFF': expected one of NORMAL, FULL"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[providers.local]\nkind = "openia"\n',
            "config: providers.local.kind = 'openia': expected one of anthropic, openai",
        ),
        ('[providers.local]\nbase_url = "localhost:8000"\n', "config: providers.local.base_url must be an http(s) URL"),
        ('[providers.local]\nkinds = "openai"\n', "config: providers.local: unknown keys ['kinds']"),
        ("[providers\n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_is_a_config_error(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "corral.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings({"CORRAL_CONFIG": str(path)})
    assert message in caught.value.message


def test_a_provider_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "corral.toml"
    path.write_text('[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\napi_key_env = "K"\n')
    provider = load_settings({"CORRAL_CONFIG": str(path), "K": "secret"}).providers["local"]
    assert (provider.kind, provider.base_url, provider.api_key) == ("openai", "http://127.0.0.1:8000/v1", "secret")


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corral", "migrate"],
        env={"CORRAL_PORT": "eighty", "CORRAL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == "corral: CORRAL_PORT='eighty': expected a value of type int\n"


def test_the_blob_settings() -> None:
    default = load_settings({})
    assert (default.blob_url, default.s3_endpoint_url, default.blob_max_bytes) == ("", None, 500 * 1024 * 1024)
    given = load_settings(
        {
            "CORRAL_BLOB_URL": "s3://bucket/corral",
            "CORRAL_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "CORRAL_BLOB_MAX_BYTES": "1048576",
        }
    )
    assert (given.blob_url, given.s3_endpoint_url, given.blob_max_bytes) == (
        "s3://bucket/corral",
        "http://127.0.0.1:9000",
        1048576,
    )


def test_workspace_snapshots_follow_the_blob_store_unless_set() -> None:
    assert not Settings().snapshots_enabled  # blobs in the data dir: one machine
    assert Settings(blob_url="s3://bucket/corral").snapshots_enabled
    assert Settings(workspace_snapshots="on").snapshots_enabled
    assert not Settings(blob_url="s3://bucket/corral", workspace_snapshots="off").snapshots_enabled
