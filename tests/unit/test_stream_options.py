"""StreamOptions refuses values that would make the stream misbehave."""

import pytest

from stockmind.stream.options import StreamOptions


@pytest.mark.parametrize("field, value", [("max_messages", 0), ("load_threads", 0), ("receive_threads", 0),
                                          ("receive_wait_s", -1), ("shutdown_grace_s", -0.5), ("retry_base_s", -1),
                                          ("models_refresh_s", 0)])
def test_bad_values_are_refused_with_the_field_named(field, value):
    with pytest.raises(ValueError, match=field):
        StreamOptions(**{field: value})


def test_defaults_run_forever():
    options = StreamOptions()
    assert options.max_messages is None and options.idle_exit_s is None
