"""Settings: where each comes from, and refusals that name what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from heater import wiring
from heater.config import SETTINGS, Config, ConfigError


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = Config.load(environ={})
    assert config == Config(tmp_path / "repos", index="sqlite", blobs="filesystem",
                            identity="tokens")


def test_option_then_environment_then_file_then_default(tmp_path: Path) -> None:
    file = tmp_path / "etc" / "heater.toml"
    file.parent.mkdir()
    file.write_text('data_dir = "data"\nindex = "sqlite"\n')
    # The file's data_dir is relative to the file.
    assert Config.load(config_file=str(file), environ={}).data_dir == tmp_path / "etc" / "data"
    env = {"HEATER_CONFIG": str(file), "HEATER_DATA_DIR": str(tmp_path / "env")}
    assert Config.load(environ=env).data_dir == tmp_path / "env"
    assert Config.load(str(tmp_path / "opt"), environ=env).data_dir == tmp_path / "opt"


@pytest.mark.parametrize(("environ", "source"), [
    ({"HEATER_BLOBS": "ceph"}, "$HEATER_BLOBS"),
    ({"HEATER_INDEX": "mysql"}, "$HEATER_INDEX"),
    ({"HEATER_IDENTITY": "ldap"}, "$HEATER_IDENTITY"),
])
def test_unknown_backend_is_refused_with_the_allowed_ones(
        tmp_path: Path, environ: dict[str, str], source: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.load(str(tmp_path), environ=environ)
    [(key, value)] = environ.items()
    setting = next(s for s in SETTINGS if s.env == key)
    assert refused.value.message == (
        f"{source}: unknown {setting.key} backend {value!r}; "
        f"allowed: {', '.join(setting.choices)}")
    assert refused.value.code == "invalid_config"


def test_unknown_backend_in_the_file_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "heater.toml"
    file.write_text('blobs = "gcs"\n')
    with pytest.raises(ConfigError, match=r"heater.toml: blobs: unknown blobs backend 'gcs'; "
                                          r"allowed: filesystem, swift, s3"):
        Config.load(config_file=str(file), environ={})


@pytest.mark.parametrize(("content", "message"), [
    ('blob = "filesystem"\n',
     "unknown settings blob; known: audit_log, blob_part_bytes, blob_parts_in_flight, "
     "blob_redirect_seconds, blobs, "),
    ("index = 1\n", "index must be a string"),
    ("index = \n", "not a TOML file"),
])
def test_bad_config_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "heater.toml"
    file.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Config.load(config_file=str(file), environ={})


def test_missing_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        Config.load(environ={"HEATER_CONFIG": str(tmp_path / "nope.toml")})


def test_direct_construction_checks_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="allowed: sqlite"):
        Config(tmp_path, index="mysql")


def test_every_allowed_backend_can_be_built() -> None:
    tables = {"index": wiring.INDEX_BACKENDS, "blobs": wiring.BLOB_BACKENDS,
              "identity": wiring.IDENTITY_BACKENDS}
    for setting in SETTINGS:
        if setting.choices:
            assert sorted(tables[setting.key]) == sorted(setting.choices), setting.key
    assert sorted(wiring.BUILD_BACKENDS) == sorted(wiring.INDEX_BACKENDS)
    assert sorted(wiring.TOKEN_BACKENDS) == sorted(wiring.INDEX_BACKENDS)


def test_postgresql_needs_a_dsn(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"setting dsn: index postgresql needs the "
                                          r"database's DSN \(HEATER_DSN"):
        Config.load(str(tmp_path), environ={"HEATER_INDEX": "postgresql"})
    with pytest.raises(ConfigError, match=r"\$HEATER_DSN: dsn must be a PostgreSQL DSN"):
        Config.load(str(tmp_path), environ={"HEATER_INDEX": "postgresql",
                                            "HEATER_DSN": "db.example.com"})
    file = tmp_path / "heater.toml"
    file.write_text('index = "postgresql"\ndsn = "postgresql://heater@db.example.com/heater"\n')
    config = Config.load(config_file=str(file), environ={})
    assert (config.index, config.dsn) == ("postgresql", "postgresql://heater@db.example.com/heater")
    config = Config.load(config_file=str(file), environ={"HEATER_DSN": "host=db dbname=h"})
    assert config.dsn == "host=db dbname=h"


def test_links_proxies_and_file_size_come_from_the_file_or_the_environment(
        tmp_path: Path) -> None:
    path = tmp_path / "heater.toml"
    path.write_text('public_url = "https://heater.example.com/"\ntrusted_proxies = 1\n'
                    "max_blob_bytes = 1048576\n")
    config = Config.load(config_file=str(path), environ={})
    assert (config.public_url, config.trusted_proxies, config.max_blob_bytes) == (
        "https://heater.example.com", 1, 1048576)
    config = Config.load(config_file=str(path), environ={"HEATER_MAX_BLOB_BYTES": "5"})
    assert config.max_blob_bytes == 5
    with pytest.raises(ConfigError, match=r"\$HEATER_MAX_BLOB_BYTES: max_blob_bytes must be "
                                          r"a number of bytes"):
        Config.load(config_file=str(path), environ={"HEATER_MAX_BLOB_BYTES": "lots"})


@pytest.mark.parametrize(("environ", "missing"), [
    ({"HEATER_BLOBS": "swift"}, "swift_auth_url ($HEATER_SWIFT_AUTH_URL), swift_user "
                                "($HEATER_SWIFT_USER), swift_key ($HEATER_SWIFT_KEY)"),
    ({"HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH": "keystone",
      "HEATER_SWIFT_AUTH_URL": "https://keystone.example.com/v3", "HEATER_SWIFT_USER": "heater",
      "HEATER_SWIFT_KEY": "k"}, "swift_project ($HEATER_SWIFT_PROJECT)"),
    ({"HEATER_BLOBS": "s3", "HEATER_S3_ACCESS_KEY": "a"}, "s3_secret_key ($HEATER_S3_SECRET_KEY)"),
])
def test_an_object_store_needs_where_and_who(tmp_path: Path, environ: dict[str, str],
                                             missing: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.load(str(tmp_path), environ=environ)
    assert refused.value.message == f"settings: blobs {environ['HEATER_BLOBS']} needs {missing}"


def test_object_store_settings_come_from_the_file_and_hide_secrets(tmp_path: Path) -> None:
    path = tmp_path / "heater.toml"
    path.write_text('blobs = "s3"\ns3_endpoint = "http://127.0.0.1:9000"\ns3_bucket = "images"\n'
                    's3_access_key = "heater"\ns3_secret_key = "s3cr3t-value"\n'
                    "blob_part_bytes = 8388608\nblob_redirect_seconds = 300\n"
                    "blob_parts_in_flight = 3\n")
    config = Config.load(config_file=str(path), environ={})
    assert (config.blobs, config.s3_endpoint, config.s3_bucket, config.blob_part_bytes,
            config.blob_redirect_seconds, config.blob_parts_in_flight) == (
        "s3", "http://127.0.0.1:9000", "images", 8388608, 300, 3)
    assert "s3cr3t-value" not in repr(config)


def test_parts_smaller_than_s3_takes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"blob_part_bytes must be a number of bytes "
                                          r"\(5242880 to 4294967296\), not '1000'"):
        Config.load(str(tmp_path), environ={"HEATER_BLOB_PART_BYTES": "1000"})


@pytest.mark.parametrize("value", ["0", "17", "two"])
def test_parts_in_flight_outside_1_to_16_are_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"blob_parts_in_flight must be a number of parts "
                                          rf"\(1 to 16\), not '{value}'"):
        Config.load(str(tmp_path), environ={"HEATER_BLOB_PARTS_IN_FLIGHT": value})


def test_keystone_settings(tmp_path: Path) -> None:
    path = tmp_path / "heater.toml"
    path.write_text('identity = "keystone"\nkeystone_url = "http://keystone:5000/v3/"\n'
                    "keystone_cache_seconds = 30\n"
                    'keystone_namespaces = "0123abcd = acme, 4567ef=ops"\n'
                    'glance_credential = "cred-id:s3cr3t:with-colon"\n'
                    'keystone_service_user = "heater"\n'
                    'keystone_service_password = "pa55word"\n'
                    'keystone_memcached_servers = "cache1:11211, [::1]:11211"\n')
    config = Config.load(config_file=str(path), environ={})
    assert (config.identity, config.keystone_url, config.keystone_cache_seconds) == (
        "keystone", "http://keystone:5000/v3", 30)
    assert (config.keystone_service_user, config.keystone_service_project,
            config.keystone_service_user_domain) == ("heater", "service", "Default")
    assert config.keystone_memcached_servers == ("cache1:11211", "[::1]:11211")
    assert "pa55word" not in repr(config)
    with pytest.raises(ConfigError, match=r"it needs keystone_service_user "
                                          r"\(\$HEATER_KEYSTONE_SERVICE_USER\), "
                                          r"keystone_service_password"):
        Config.load(environ={"HEATER_IDENTITY": "keystone",
                             "HEATER_KEYSTONE_URL": "http://keystone:5000"})
    with pytest.raises(ConfigError, match="must be host:port addresses"):
        Config.load(environ={"HEATER_KEYSTONE_MEMCACHED_SERVERS": "cache1"})
    assert config.keystone_namespaces == {"0123abcd": "acme", "4567ef": "ops"}
    assert config.glance_credential == ("cred-id", "s3cr3t:with-colon")
    assert "s3cr3t" not in repr(config)
    with pytest.raises(ConfigError, match="identity keystone needs keystone_url"):
        Config.load(environ={"HEATER_IDENTITY": "keystone"})
    with pytest.raises(ConfigError, match=r"\$HEATER_KEYSTONE_NAMESPACES: keystone_namespaces "
                                          "must be <project id>=<namespace>"):
        Config.load(environ={"HEATER_KEYSTONE_NAMESPACES": "acme"})
    with pytest.raises(ConfigError, match="must be one of on, off"):
        Config.load(environ={"HEATER_KEYSTONE_HEATER_TOKENS": "yes"})
