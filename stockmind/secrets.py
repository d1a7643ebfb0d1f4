"""DATABASE_URL's password from AWS Secrets Manager, read once when the settings are built.

On AWS the nodes' environment names the secret (STOCKMIND_DATABASE_SECRET_ARN) and carries
DATABASE_URL without a password, so the password is in no file, user data or Terraform state. The
secret holds either JSON with a `password` key (what RDS writes; `username`, `host`, `port` and
`dbname` fill in what DATABASE_URL leaves out) or a whole postgresql:// URL.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from stockmind.errors import ConfigError

URL_SCHEMES = ("postgresql://", "postgres://")


def read_secret(arn: str, region: str) -> str:
    client = boto3.client("secretsmanager", region_name=region, config=Config(retries={"mode": "standard"}))
    try:
        return client.get_secret_value(SecretId=arn)["SecretString"]
    except ClientError as error:
        raise ConfigError(f"STOCKMIND_DATABASE_SECRET_ARN={arn!r} cannot be read: {error}") from None


def database_url_with_secret(database_url: str | None, arn: str, region: str) -> str:
    """DATABASE_URL completed with the secret's password (or the secret's URL)."""
    if database_url and urlsplit(database_url).password is not None:
        raise ConfigError("DATABASE_URL carries a password although STOCKMIND_DATABASE_SECRET_ARN is set: remove it")
    secret = read_secret(arn, region)
    if secret.startswith(URL_SCHEMES):
        return secret
    return with_password(database_url, _parse(secret, arn))


def with_password(database_url: str | None, secret: dict) -> str:
    """`database_url` (or one built from an RDS-style secret) with the secret's password in it."""
    url = urlsplit(database_url or f"postgresql://{secret.get('host', '')}:{secret.get('port', 5432)}/"
                                    f"{secret.get('dbname', '')}")
    user = unquote(url.username) if url.username else secret.get("username")
    if not user or not url.hostname:
        raise ConfigError("the database secret or DATABASE_URL must name the user and host")
    host = url.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(secret['password'], safe='')}@{host}"
    return urlunsplit(url._replace(netloc=netloc))


def _parse(secret: str, arn: str) -> dict:
    try:
        value = json.loads(secret)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("password"), str):
        raise ConfigError(f"secret {arn} must be a postgresql:// URL or JSON with a string `password`")
    return value
