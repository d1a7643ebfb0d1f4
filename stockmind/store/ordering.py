"""Which event wins when one batch names the same key twice (before the rows meet the table).

The rule lives in SQL (`event_is_newer`, `sequencer_sort_key` in schema.py) so that the in-batch
choice and the choice against stored rows cannot drift apart; this module only asks PostgreSQL.
"""

from collections.abc import Sequence
from datetime import datetime

import psycopg

_NEWEST_PER_KEY = """
SELECT DISTINCT ON (bucket, key) ordinal
FROM unnest(%s::int[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
    AS e(ordinal, bucket, key, sequencer, event_time)
ORDER BY bucket, key, sequencer_sort_key(sequencer) COLLATE "C" DESC NULLS LAST,
         event_time DESC NULLS LAST, ordinal DESC
"""


def newest_per_key(
    conn: psycopg.Connection,
    keys: Sequence[tuple[str, str]],
    sequencers: Sequence[str | None],
    event_times: Sequence[datetime | None],
) -> list[int]:
    """Positions of the events to keep: all of them when every (bucket, key) is distinct, else the
    newest per key (the later arrival wins a tie)."""
    if len(set(keys)) == len(keys):
        return list(range(len(keys)))
    rows = conn.execute(
        _NEWEST_PER_KEY,
        (
            list(range(len(keys))),
            [bucket for bucket, _ in keys],
            [key for _, key in keys],
            list(sequencers),
            list(event_times),
        ),
    ).fetchall()
    return sorted(ordinal for (ordinal,) in rows)
