"""DATABASE_URL's password comes from Secrets Manager (a moto server) when the settings are built,
and nowhere else: not the environment, not a URL with a password beside the secret."""

from __future__ import annotations

import json

import boto3
import pytest

from stockmind.config import Settings
from stockmind.errors import ConfigError

REGION = "us-east-1"
URL_WITHOUT_PASSWORD = "postgresql://stockmind@db.internal:5432/stockmind"


@pytest.fixture
def secrets(own_moto_env):
    return boto3.client("secretsmanager", region_name=REGION)


def secret(client, value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return client.create_secret(Name="stock-mind/database", SecretString=text)["ARN"]


def settings(arn: str, database_url: str | None = URL_WITHOUT_PASSWORD) -> Settings:
    env = {"STOCKMIND_DATABASE_SECRET_ARN": arn, "AWS_REGION": REGION}
    return Settings.from_env(env | ({"DATABASE_URL": database_url} if database_url else {}), require=["DATABASE_URL"])


def test_the_password_of_an_rds_style_secret_completes_database_url(secrets):
    arn = secret(secrets, {"username": "ignored", "password": "p@ss/word:1", "host": "other"})
    assert settings(arn).database_url == "postgresql://stockmind:p%40ss%2Fword%3A1@db.internal:5432/stockmind"


def test_an_rds_secret_alone_names_the_whole_database(secrets):
    arn = secret(secrets, {"username": "app", "password": "pw", "host": "db.rds.internal", "port": 5433,
                           "dbname": "stockmind", "engine": "postgres"})
    assert settings(arn, database_url=None).database_url == "postgresql://app:pw@db.rds.internal:5433/stockmind"


def test_a_secret_holding_a_whole_url_is_the_database_url(secrets):
    arn = secret(secrets, "postgresql://app:pw@db.internal:5432/stockmind")
    assert settings(arn).database_url == "postgresql://app:pw@db.internal:5432/stockmind"


def test_a_password_in_database_url_beside_the_secret_is_refused(secrets):
    arn = secret(secrets, {"password": "pw"})
    with pytest.raises(ConfigError, match="carries a password"):
        settings(arn, database_url="postgresql://stockmind:plain@db.internal/stockmind")


def test_a_missing_secret_or_one_without_a_password_fails_at_start(secrets):
    missing = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:nope-AbCdEf"
    with pytest.raises(ConfigError, match="cannot be read"):
        settings(missing)
    with pytest.raises(ConfigError, match="password"):
        settings(secret(secrets, {"user": "x"}))


def test_without_the_setting_database_url_is_used_as_it_is(secrets):
    secret(secrets, {"password": "from-the-secret"})
    plain = Settings.from_env({"DATABASE_URL": "postgresql://u:pw@127.0.0.1:5432/db"})
    assert plain.database_url == "postgresql://u:pw@127.0.0.1:5432/db"
