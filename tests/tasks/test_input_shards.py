"""Multi-worker input (tfbig.tasks.streaming.input_share): a streamed corpus or a prepared
folder is sharded by file when every worker gets a file, else by example with one warning.
Checked with fake ``tf.distribute.InputContext``s: no worker is launched."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

from tfbig.data.stream_bad_lines import iterate
from tfbig.data.stream_files import shard_by_file
from tfbig.tasks import get_task, resolve_config
from tfbig.tasks.streaming import input_share

WARNING = ("{files} files for 2 workers: sharding by example, each worker reads every file; "
           "write at least 2 shards (python -m tfbig.prepare does)")


def context(index, pipelines=2):
    return tf.distribute.InputContext(num_input_pipelines=pipelines, input_pipeline_id=index,
                                      num_replicas_in_sync=pipelines)


def test_by_file_only_when_every_pipeline_gets_a_file_and_the_warning_is_said_once(capsys):
    assert shard_by_file(3, 2) and shard_by_file(2, 2)
    assert not shard_by_file(5, 1)  # one pipeline: nothing to shard
    assert not shard_by_file(1, 3) and not shard_by_file(1, 3)
    err = capsys.readouterr().err
    assert err == ("1 files for 3 workers: sharding by example, each worker reads every "
                   "file; write at least 3 shards (python -m tfbig.prepare does)\n")


def _streamed_train(tmp_path, shards):
    lines = [f"source {i}\ttarget {i}\n" for i in range(120)]
    folder = tmp_path / f"corpus{shards}"
    folder.mkdir()
    size = -(-len(lines) // shards)
    for i in range(shards):
        with gzip.open(folder / f"part-{i}.tsv.gz", "wt", encoding="utf-8") as f:
            f.write("".join(lines[i * size:(i + 1) * size]))
    task = get_task(resolve_config({"data.path": str(folder)}))
    splits, _ = task.load_splits()
    return splits["train"]


@pytest.mark.parametrize("shards, by_file", [(3, True), (1, False)], ids=["by-file", "by-example"])
def test_a_stream_is_shared_out_whole_and_without_overlap(tmp_path, capsys, shards, by_file):
    train = _streamed_train(tmp_path, shards)
    capsys.readouterr()
    whole = list(iterate(train.dataset()))
    parts = [list(iterate(input_share(train, context(index)).dataset())) for index in (0, 1)]
    assert sorted(parts[0] + parts[1]) == sorted(whole)
    assert not set(parts[0]) & set(parts[1]) and parts[0] and parts[1]
    files = [{source.split()[1] for source, _ in part} for part in parts]
    if by_file:  # worker 0 reads part-0 and part-2, worker 1 part-1: 40 lines each
        assert {int(i) // 40 for i in files[1]} == {1}
    assert capsys.readouterr().err == ("" if by_file else WARNING.format(files=1) + "\n")
    assert input_share(train, context(0, pipelines=1)) is train
    assert input_share([("a", "b")], context(1)) == [("a", "b")]  # a list: the loop shards


@pytest.mark.parametrize("pipelines, by_file", [(2, True), (9, False)])
def test_a_prepared_folder_is_shared_out_by_shard(tmp_path, pipelines, by_file):
    from tfbig.data.prepared_shards import ShardWriter
    from tfbig.tasks.prepared import PreparedTrain, shard_names

    names = shard_names(8)
    features = [["token_ids", "ids"]]
    with ShardWriter([str(tmp_path / name) for name in names], features) as writer:
        for i in range(21):
            writer.write(np.array([i + 1, i + 2], np.int32))
    train = PreparedTrain(str(tmp_path), {"shards": names, "counts": {"train": 21},
                                          "lengths": {"2": 21}, "features": features})
    task = get_task(resolve_config({"task": "mlm"}))
    seen = []
    for index in range(pipelines):
        share = input_share(train, context(index, pipelines))
        ids = [int(x[0]) for x in task.prepared_examples(share).as_numpy_iterator()]
        if by_file:
            assert len(share.files) == 4 and len(ids) == share.count
        seen += ids
    assert sorted(seen) == list(range(1, 22))


def test_the_loop_shards_the_batches_only_of_data_not_shared_out_already():
    from tfbig.training.multiworker_loop import distributed_datasets

    class OneInputPipeline:  # the strategy call, for input pipeline 1 of 2
        def distribute_datasets_from_function(self, dataset_fn):
            return dataset_fn(context(1))

    def make(per_replica_batch, input_context):
        assert input_context.input_pipeline_id == 1
        return tf.data.Dataset.range(6).batch(per_replica_batch)  # global batch 4, 2 replicas

    def first(dataset, count):
        return [batch.numpy().tolist() for batch in dataset.take(count)]

    # A list's batches: every worker builds the same ones and keeps its share, repeated.
    assert first(distributed_datasets(OneInputPipeline(), make, 4, shard=True), 3) == [
        [2, 3], [0, 1], [4, 5]]
    # A stream read by file is this worker's share already: repeated, not sharded again.
    assert first(distributed_datasets(OneInputPipeline(), make, 4, shard=False, repeat=True),
                 4) == [[0, 1], [2, 3], [4, 5], [0, 1]]
