"""The backfill as one Ray Data pipeline, read top to bottom:

    keys (listing pages / Inventory files / key list) → skip what is embedded → small blocks
      → GET bytes (fetcher actors) → decode + preprocess (one row per image or video frame)
      → ClipEmbedder actor pool → write (one actor)

Listing and the skip query are tasks with a fraction of a CPU, one per page of keys. Every later
stage is an actor pool, started with the pipeline, so its start-up (boto3 clients, torch, the model)
is paid once and overlaps the listing: the fetchers hold one boto3 client and a bounded set of GET
threads each; decoding and embedding load a model (the embedders with `cpus_per_actor` and GPUs).
`check_resources` refuses an embedder pool that would leave no CPU for a decoder: actors holding
every CPU starve the read tasks, and Ray Data then hangs forever without an error.

With images decoded on the embedders (`--decode-on`; by default when they have GPUs) the decoders
pass images through as files and the embedder pool is `MediaEmbedder`s, which decode them (nvJPEG).
"""

from __future__ import annotations

import logging
import time

import ray
from ray.data import ActorPoolStrategy, Dataset

from stockmind.backfill.datasource import ObjectKeysDatasource
from stockmind.backfill.embed import MediaEmbedder
from stockmind.backfill.fetch import ObjectFetcher
from stockmind.backfill.frames import FramePreparer
from stockmind.backfill.options import BackfillOptions
from stockmind.backfill.skip import select_todo
from stockmind.backfill.sources import Shard
from stockmind.backfill.writer import MediaWriter
from stockmind.embed.embedder import ClipEmbedder
from stockmind.errors import ConfigError
from stockmind.ray_env import worker_runtime_env

log = logging.getLogger(__name__)

# CPUs per task or actor of the stages around the embedder: listing, queries and writes mostly wait.
IO_CPUS = 0.1
WRITER_CPUS = 0.1
# A decoder and a fetcher to feed it are counted as a pair (together the quarter CPU a decoder used
# to ask for alone), and the two pools grow to the same size at most.
DECODE_CPUS = 0.2
FETCH_CPUS = 0.05
PAIR_CPUS = DECODE_CPUS + FETCH_CPUS
# Ray Data's streaming repartition runs tasks of one whole CPU (no option to change it): the actor
# pools must always leave that much free, or the pipeline waits for it forever. It is still the only
# way Ray Data cuts a page of keys into smaller blocks (a stage's outputs are merged up to 128 MB).
REPARTITION_CPUS = 1.0
# The unit that streams through the GET, decode, embed and write stages: one embedder batch of
# images, so the first rows are stored after one block, and a block costs a handful of Ray calls.
OBJECTS_PER_BLOCK = 32
OBJECTS_PER_DECODE = 8
MAX_DECODERS = 8
RELEASE_WAIT_S = 30.0


def keys_to_embed(shards: list[Shard], options: BackfillOptions, tally) -> Dataset:
    """Listed objects minus those already embedded with this model at this eTag (unless --force)."""
    env = worker_runtime_env()
    return (
        # One block stream per shard: splitting pages further would only multiply the skip queries.
        ray.data.read_datasource(ObjectKeysDatasource(shards), num_cpus=IO_CPUS, runtime_env=env,
                                 override_num_blocks=max(1, len(shards)))
        .map_batches(select_todo, batch_format="pyarrow", batch_size=None, num_cpus=IO_CPUS, runtime_env=env,
                     fn_kwargs={"database_url": options.database_url, "model_id": options.model,
                                "force": options.force, "tally": tally})
    )


def backfill(shards: list[Shard], options: BackfillOptions, tally) -> Dataset:
    """The whole pipeline; its rows are the outcomes (`key`, `stored`, `frames`) of written objects."""
    env = worker_runtime_env()
    decoders = decoder_pool_size(options)
    on_embedder = options.decode_images_on_embedder
    embedder, embedder_args = ((MediaEmbedder, (options.model, options.max_image_pixels, tally)) if on_embedder
                               else (ClipEmbedder, (options.model,)))
    log.info("images are decoded by the %s", "embedders" if on_embedder else "decoders")
    return (
        keys_to_embed(shards, options, tally)
        # Small blocks keep the stages streaming: without this a whole listing page would be fetched,
        # then decoded, then embedded, as one block, with nothing overlapping.
        .repartition(target_num_rows_per_block=OBJECTS_PER_BLOCK)
        .map_batches(ObjectFetcher, batch_format="pyarrow", batch_size=None,
                     compute=ActorPoolStrategy(min_size=1, max_size=decoders), num_cpus=FETCH_CPUS,
                     runtime_env=env, fn_constructor_args=(options.max_object_bytes, tally))
        .map_batches(FramePreparer, batch_format="pyarrow", batch_size=OBJECTS_PER_DECODE,
                     compute=ActorPoolStrategy(min_size=1, max_size=decoders), num_cpus=DECODE_CPUS, runtime_env=env,
                     fn_constructor_args=(options.model, options.max_image_pixels, options.video_fps,
                                          options.video_max_frames, tally),
                     fn_constructor_kwargs={"pass_images": on_embedder})
        .map_batches(embedder, fn_constructor_args=embedder_args, batch_size=options.batch_size,
                     compute=ActorPoolStrategy(min_size=1, max_size=options.pool_size),
                     num_gpus=options.gpus_per_actor, num_cpus=options.cpus_per_actor,
                     runtime_env=embedder_env(env, options))
        .map_batches(MediaWriter, fn_constructor_args=(options.database_url, options.model, tally),
                     fn_constructor_kwargs={"replace": options.force, "new_keys": not options.reindex},
                     batch_size=None,
                     compute=ActorPoolStrategy(size=1), num_cpus=WRITER_CPUS, runtime_env=env)
    )


def embedder_env(env: dict, options: BackfillOptions) -> dict:
    """The embedder's torch threads: Ray gives an actor with a fraction of a CPU one thread; on a
    CPU-only node the embedder may use more cores than it reserves (`--threads-per-actor`)."""
    threads = str(options.threads_per_actor or max(1, int(options.cpus_per_actor)))
    return {"env_vars": {**env["env_vars"], "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}}


def decoder_pool_size(options: BackfillOptions) -> int:
    """As many decoders (and fetchers) as the CPUs left beside the embedders allow (at least one)."""
    return max(1, min(MAX_DECODERS, int(_spare_cpus(options) // PAIR_CPUS)))


def check_resources(options: BackfillOptions, wait_s: float = RELEASE_WAIT_S) -> None:
    """Refuse an embedder pool that leaves no CPU for a decoder (and its fetcher) and the 1-CPU
    repartition tasks: Ray Data would hang without an error. Actors of a pipeline that just finished free their CPUs a
    moment later, so it waits up to `wait_s` for them before it refuses."""
    deadline = time.monotonic() + wait_s
    while _spare_cpus(options) < PAIR_CPUS and time.monotonic() < deadline:
        time.sleep(0.5)
    if _spare_cpus(options) < PAIR_CPUS:
        raise ConfigError(
            f"{options.pool_size} embedder actors × {options.cpus_per_actor} CPU leave no CPU for decoding:"
            f" {ray.available_resources().get('CPU', 0):g} of the cluster's {ray.cluster_resources().get('CPU', 0):g}"
            " CPUs are free (other jobs' actors hold the rest); lower --pool-size or --cpus-per-actor"
        )


def _spare_cpus(options: BackfillOptions) -> float:
    # What is free now, not the cluster's total: the always-on stream's actors share the cluster, and
    # a pipeline sized for CPUs they hold waits for them forever.
    free = ray.available_resources().get("CPU", 0)
    # GPU actors run on GPU nodes, which bring their own CPUs; count them only on CPU-only runs.
    embedders = 0 if options.gpus_per_actor > 0 else options.pool_size * options.cpus_per_actor
    return free - embedders - WRITER_CPUS - IO_CPUS - REPARTITION_CPUS
