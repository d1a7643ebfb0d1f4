"""Single and pooled connections to the store are set up alike."""

import numpy as np
from pgvector import HalfVector

from stockmind.store import connect, connection_pool


def test_pooled_connections_are_set_up_as_single_ones(database_url):
    with connect(database_url) as single, connection_pool(database_url, name="t", max_size=1, timeout_s=5) as pool:
        with pool.connection() as pooled:
            for conn in (single, pooled):
                assert conn.autocommit and conn.prepare_threshold is None
                # halfvec comes back as pgvector's type only where register_vector ran on the connection
                (value,) = conn.execute("SELECT %s::halfvec", (HalfVector([1, 2]),)).fetchone()
                np.testing.assert_array_equal(value.to_numpy(), [1, 2])
