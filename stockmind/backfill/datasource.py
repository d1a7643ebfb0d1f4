"""The shards of a key source as a Ray Data datasource: one read task per shard, one block per page."""

from __future__ import annotations

from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from stockmind.backfill.rows import OBJECT_SCHEMA, objects_table
from stockmind.backfill.sources import Shard


class ObjectKeysDatasource(Datasource):
    def __init__(self, shards: list[Shard]):
        super().__init__()
        self._shards = shards

    def get_name(self) -> str:
        return "ListObjects"

    def estimate_inmemory_data_size(self) -> int | None:
        return None  # unknown until listed; that is the point of streaming the listing

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context=None) -> list[ReadTask]:
        # One task per shard whatever `parallelism` asks: a listing cannot be split further.
        metadata = BlockMetadata(num_rows=None, size_bytes=None, input_files=None, exec_stats=None)
        return [ReadTask(_reader(shard), metadata, schema=OBJECT_SCHEMA, per_task_row_limit=per_task_row_limit)
                for shard in self._shards]


def _reader(shard: Shard):
    def read():
        for page in shard.pages():
            yield objects_table(page)

    return read
