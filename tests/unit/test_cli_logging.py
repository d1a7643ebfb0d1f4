"""`stockmind ...` prints for people: our own progress lines; the libraries' INFO chatter only with -v."""

import logging

import pytest

from stockmind.cli import build_parser
from stockmind.logs import OWN_LOGGERS, VERBOSE_LIBRARIES, set_levels

LIBRARIES = ("botocore.endpoint", "urllib3.connectionpool", "transformers")


@pytest.fixture(autouse=True)
def restore_levels():
    saved = {name: logging.getLogger(name).level for name in ("", *OWN_LOGGERS, *VERBOSE_LIBRARIES)}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def configure(*argv: str) -> None:
    set_levels(build_parser().parse_args([*argv, "local", "status"]).verbose)  # what `stockmind ...` applies


def test_without_verbose_only_our_own_info_lines_show():
    configure()
    assert logging.getLogger("stockmind.stream.job").isEnabledFor(logging.INFO)
    for library in LIBRARIES:
        assert not logging.getLogger(library).isEnabledFor(logging.INFO), library


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_shows_everything_down_to_debug(flag):
    configure()  # a quiet call first: the verbose one must not depend on being the process's first
    configure(flag)
    for name in ("stockmind.stream.job", *LIBRARIES):
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG), name
