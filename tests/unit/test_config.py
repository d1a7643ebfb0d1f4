import pytest

from stockmind.config import DEFAULT_MODEL, Settings
from stockmind.errors import ConfigError

SEED_ENV = {
    "SQS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/stock-mind-media-queue",
    "S3_BUCKET_NAME": "stock-mind-media",
    "AWS_REGION": "eu-west-1",
    "DATABASE_URL": "postgresql://user:pass@db.internal:5432/stockmind",
    "EMBEDDING_SERVICE_URL": "http://search.internal:8000",
}


def test_reads_the_seed_worker_variables():
    settings = Settings.from_env(SEED_ENV, require=SEED_ENV.keys())
    assert settings.sqs_queue_url == SEED_ENV["SQS_QUEUE_URL"]
    assert settings.s3_bucket_name == "stock-mind-media"
    assert settings.aws_region == "eu-west-1"
    assert settings.database_url == SEED_ENV["DATABASE_URL"]
    assert settings.service_port == 8000


def test_defaults_apply_when_unset():
    settings = Settings.from_env({})
    assert settings.model == DEFAULT_MODEL
    assert settings.aws_region == "us-east-1"
    assert settings.video_fps == 1.0
    assert settings.embed_batch_size == 32
    assert settings.sqs_queue_url is None
    assert settings.max_object_bytes == 2 * 1024**3  # product video; uploads stay at their own limit
    assert settings.max_upload_bytes == 20 * 1024 * 1024


def test_stockmind_variables_are_parsed_to_their_types():
    settings = Settings.from_env({
        "STOCKMIND_EMBED_BATCH_SIZE": "64", "STOCKMIND_VIDEO_FPS": "0.5",
        "STOCKMIND_EMBEDDER_NUM_GPUS": "1", "STOCKMIND_MODEL": "stockmind-clip-small",
        "STOCKMIND_MAX_OBJECT_BYTES": "5000000000",
    })
    assert settings.max_object_bytes == 5_000_000_000
    assert settings.embed_batch_size == 64
    assert settings.video_fps == 0.5
    assert settings.embedder_num_gpus == 1.0
    assert settings.model == "stockmind-clip-small"


def test_empty_values_count_as_unset():
    assert Settings.from_env({"STOCKMIND_EMBED_BATCH_SIZE": ""}).embed_batch_size == 32


@pytest.mark.parametrize("name, value", [
    ("SQS_QUEUE_URL", "not-a-url"),
    ("SQS_QUEUE_URL", "ftp://sqs.example/queue"),
    ("S3_BUCKET_NAME", "Upper_Case"),
    ("S3_BUCKET_NAME", "ab"),
    ("S3_BUCKET_NAME", "a..b"),
    ("AWS_REGION", "useast1"),
    ("DATABASE_URL", "mysql://db/x"),
    ("EMBEDDING_SERVICE_URL", "search:8000"),
    ("STOCKMIND_EMBED_BATCH_SIZE", "zero"),
    ("STOCKMIND_EMBED_BATCH_SIZE", "0"),
    ("STOCKMIND_EMBED_BATCH_SIZE", "-4"),
    ("STOCKMIND_VIDEO_FPS", "fast"),
    ("STOCKMIND_MAX_OBJECT_BYTES", "0"),
    ("STOCKMIND_MAX_OBJECT_BYTES", "2GB"),
    ("STOCKMIND_EMBEDDER_NUM_GPUS", "-1"),
    ("STOCKMIND_EMBEDDER_NUM_CPUS", "nan"),
    ("STOCKMIND_MODEL", "   "),
])
def test_malformed_value_fails_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize("name", ["SQS_QUEUE_URL", "DATABASE_URL", "S3_BUCKET_NAME"])
def test_required_but_missing_fails_naming_the_variable(name):
    env = {k: v for k, v in SEED_ENV.items() if k != name}
    with pytest.raises(ConfigError, match=f"{name} is required"):
        Settings.from_env(env, require=[name])


def test_requiring_an_unknown_setting_is_a_programming_error():
    with pytest.raises(ConfigError, match="not a known setting"):
        Settings.from_env({}, require=["NO_SUCH_VARIABLE"])


def test_service_port_comes_from_embedding_service_url():
    assert Settings.from_env({"EMBEDDING_SERVICE_URL": "http://127.0.0.1:8123"}).service_port == 8123
