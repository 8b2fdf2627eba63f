"""Settings from the environment, with errors that name the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from testgenie.db import dsn_from_secret
from testgenie.entrypoints.sqs import is_dead_letter_batch
from testgenie.errors import ConfigurationError
from testgenie.migrate import default_migrations_dir
from testgenie.settings import Settings


def test_defaults_and_parsing() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://x",
            "ARTIFACTS_DIR": "/tmp/a",
            "PHASE_TIMEOUT_SECONDS": "30",
            "EMPTY": "",
        }
    )

    assert settings.database_url == "postgresql://x"
    assert settings.artifacts_dir == Path("/tmp/a")
    assert settings.phase_timeout_seconds == 30
    assert (settings.lease_seconds, settings.max_attempts) == (960, 3)
    assert (settings.suite_request_dlq_arn, settings.migrations_dir) == (None, None)


def test_every_variable_the_code_reads_comes_through_settings(tmp_path: Path) -> None:
    arn = "arn:aws:sqs:eu-west-1:000000000000:dlq"
    settings = Settings.from_env({"SUITE_REQUEST_DLQ_ARN": arn, "MIGRATIONS_DIR": str(tmp_path)})

    assert settings.suite_request_dlq_arn == arn
    assert default_migrations_dir(settings.migrations_dir) == tmp_path
    assert is_dead_letter_batch({"Records": [{"eventSourceARN": arn}]}, settings.suite_request_dlq_arn)
    assert not is_dead_letter_batch({"Records": [{"eventSourceARN": arn}]}, None)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PHASE_TIMEOUT_SECONDS": "soon"}, "PHASE_TIMEOUT_SECONDS"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
        ({"LEASE_SECONDS": "-1"}, "LEASE_SECONDS"),
        (
            {"ARTIFACTS_BUCKET": "b", "ARTIFACTS_DIR": "/tmp/a"},
            "set ARTIFACTS_BUCKET or ARTIFACTS_DIR, not both",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        Settings.from_env(env)


def test_dsn_from_an_rds_secret() -> None:
    dsn = dsn_from_secret(
        {"host": "db.internal", "port": 5433, "username": "app", "password": "p w", "dbname": "tg"}
    )

    assert "host=db.internal" in dsn
    assert "port=5433" in dsn
    assert "dbname=tg" in dsn
    assert "password='p w'" in dsn


def test_dsn_from_an_incomplete_secret_names_what_is_missing() -> None:
    with pytest.raises(ConfigurationError, match="database secret is missing password"):
        dsn_from_secret({"host": "h", "username": "u"})


def test_dsn_from_a_secret_verifies_the_server_against_the_shipped_rds_bundle() -> None:
    import ssl

    from psycopg.conninfo import conninfo_to_dict
    from testgenie.db import RDS_CA_BUNDLE

    params = conninfo_to_dict(dsn_from_secret({"host": "db.internal", "username": "app", "password": "p"}))

    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == str(RDS_CA_BUNDLE)
    # The bundle ships with the layer and holds the RDS certificate authorities (2024 roots included).
    context = ssl.create_default_context(cafile=str(params["sslrootcert"]))
    assert context.cert_store_stats()["x509_ca"] >= 100
    subjects = {
        value
        for cert in context.get_ca_certs()
        for rdn in cast(Any, cert["subject"])
        for key, value in rdn
        if key == "commonName"
    }
    assert "Amazon RDS us-east-1 Root CA RSA2048 G1" in subjects


def test_a_secret_may_choose_its_own_tls_settings() -> None:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(
        dsn_from_secret(
            {"host": "h", "username": "u", "password": "p", "sslmode": "require", "sslrootcert": "/x"}
        )
    )

    assert (params["sslmode"], params["sslrootcert"]) == ("require", "/x")
