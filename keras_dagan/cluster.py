"""Training on many machines: the strategy of a TF_CONFIG cluster or of a
TPU, and which worker writes the run's files.

On a cluster every worker runs the same training; only the chief's files
are kept. `output_dir` gives the chief the run's folder and every other
worker a temporary folder of its own that it removes at the end, as
TensorFlow's multi-worker guide prescribes, so that every worker still
makes the same calls (checkpoint saves included).
"""

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time

import tensorflow as tf

# How long a worker waits for all the others to join the cluster before it
# fails (TensorFlow's own default is to wait an hour).
DEFAULT_JOIN_TIMEOUT_S = 300


class ClusterError(Exception):
    """The cluster of TF_CONFIG or the TPU cannot be set up; the message
    says what to fix."""


def multi_worker_strategy(join_timeout_s=DEFAULT_JOIN_TIMEOUT_S):
    """A `tf.distribute.MultiWorkerMirroredStrategy` over the cluster that
    the `TF_CONFIG` environment variable describes.

    TF_CONFIG is TensorFlow's JSON description of the cluster and of this
    process's place in it; every worker gets the same "cluster" and its own
    "task". Worker 0 (or the "chief" task, if there is one) is the chief.
    The strategy's creation waits until every worker has joined; a worker
    that cannot reach the others within `join_timeout_s` fails with a
    `ClusterError` naming the address it tried, instead of hanging: the
    leader (the chief) waits for every other worker's address to accept
    connections, and each other worker for the leader to register it.
    Start all workers within `join_timeout_s` of one another.

    Args:
        join_timeout_s: Seconds to wait for every worker of the cluster to
            join, an integer >= 1.

    Returns:
        The strategy; its `num_replicas_in_sync` counts the replicas of all
        workers.

    Raises:
        ClusterError: TF_CONFIG is missing or malformed, or a worker could
            not be reached within `join_timeout_s`.

    Example (two machines; on the second, "index": 1):

    ```python
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
        "task": {"type": "worker", "index": 0}})
    strategy = multi_worker_strategy()
    ```
    """
    if isinstance(join_timeout_s, bool) or not isinstance(join_timeout_s, int) or join_timeout_s < 1:
        raise ValueError(f"join_timeout_s must be an integer >= 1; got {join_timeout_s!r}.")
    jobs, task = _tf_config()
    leader = ("chief" if "chief" in jobs else "worker", 0)
    me = (task["type"], task["index"])
    if me == leader:
        # The leader would wait for the others without a deadline: make sure
        # first that they are up (their servers start with their strategy).
        others = [address for name, addresses in jobs.items()
                  for index, address in enumerate(addresses) if (name, index) != leader]
        _wait_for(others, join_timeout_s, me)
    _configure_join_timeout(jobs, leader, join_timeout_s)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError) as error:
        address = jobs[leader[0]][0]
        raise ClusterError(
            f"{me[0]} {me[1]} could not join the cluster: its leader, {leader[0]} 0 at "
            f"{address}, did not register it within {join_timeout_s} s "
            f"({type(error).__name__}). Start every worker of TF_CONFIG within "
            f"{join_timeout_s} s of the others, and check that {address} is reachable "
            "from this machine.") from None


def tpu_strategy(tpu):
    """A `tf.distribute.TPUStrategy` on the TPU (or TPU pod slice) `tpu`.

    Args:
        tpu: The TPU's name or its grpc:// address, as
            `tf.distribute.cluster_resolver.TPUClusterResolver` takes it;
            "local" for a TPU VM's own chips.

    Returns:
        The strategy, its TPU system initialized.

    Raises:
        ClusterError: `tpu` is empty, or TensorFlow cannot find or reach the
            TPU (the message has TensorFlow's reason).

    Example:

    ```python
    strategy = tpu_strategy("my-tpu")
    ```
    """
    if not isinstance(tpu, str) or not tpu:
        raise ClusterError(f"A TPU strategy needs the TPU's name or grpc:// address; got {tpu!r}.")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ClusterError(f"cannot reach the TPU {tpu!r}: {error}") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """Whether this process writes the run's files: always, except on a
    cluster, where only the chief does (the "chief" task, else worker 0).

    Args:
        strategy: The run's `tf.distribute.Strategy`.

    Example:

    ```python
    if is_chief(strategy):
        print("step", step)
    ```
    """
    if not _is_cluster(strategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def computed_by_chief(strategy, compute):
    """`compute()`, run by the chief alone and its result sent to every
    other worker of a cluster; elsewhere simply `compute()`.

    For work whose result every worker needs but whose cost only one should
    pay, such as an evaluation that decides which checkpoint is the best:
    the other workers wait for the chief's result instead of computing it
    too. Every worker of the cluster must make the call at the same point
    (it is a collective operation).

    Args:
        strategy: The run's `tf.distribute.Strategy`.
        compute: A function of no arguments returning a JSON-serializable
            value (e.g. a dict of floats).

    Returns:
        The chief's `compute()` result, as JSON gives it back (tuples become
        lists).

    Example:

    ```python
    scores = computed_by_chief(strategy, lambda: {"fid": fid_now()})
    ```
    """
    if not _is_cluster(strategy):
        return compute()
    # NumPy scalars (float32 scores) go as the floats they are.
    text = json.dumps(compute(), default=float).encode() if is_chief(strategy) else b""
    length = int(_from_replica_0(strategy, [len(text)])[0])
    received = _from_replica_0(strategy, list(text) if text else [0] * length)
    return json.loads(bytes(int(value) for value in received))


def _is_cluster(strategy):
    """Whether `strategy` runs on a cluster of TF_CONFIG (a
    MultiWorkerMirroredStrategy without one is a cluster of one)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and resolver is not None and resolver.task_type is not None)


def _from_replica_0(strategy, values):
    """Global replica 0's float32 `values` (the chief's first replica:
    TensorFlow numbers the chief's replicas first), on every replica: a sum
    over all replicas in which the others add zeros. Integers below 2**24,
    bytes and lengths here, come through exactly."""
    values = tf.constant(values, "float32")

    def share():
        context = tf.distribute.get_replica_context()
        mine = tf.where(context.replica_id_in_sync_group == 0, values, tf.zeros_like(values))
        return context.all_reduce("SUM", mine)

    return strategy.experimental_local_results(strategy.run(share))[0].numpy()


@contextlib.contextmanager
def output_dir(directory, strategy):
    """The folder this process writes the run's files to: `directory` on
    the chief, a fresh temporary folder on any other worker, removed when
    the block ends (also on errors).

    Args:
        directory: The run's output folder.
        strategy: The run's `tf.distribute.Strategy`.

    Example:

    ```python
    with output_dir("runs/cifar", strategy) as out:
        TrainingCheckpoint(os.path.join(out, "checkpoints"), 1000)
    ```
    """
    if is_chief(strategy):
        yield directory
        return
    resolver = strategy.cluster_resolver
    scratch = tempfile.mkdtemp(prefix=f"keras_dagan-{resolver.task_type}{resolver.task_id}-")
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _tf_config():
    """The "cluster" and "task" of TF_CONFIG, checked."""
    example = ('e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ClusterError(f"TF_CONFIG is not set; set it to the cluster's JSON description, "
                           f"{example} (scripts/launch_local_cluster.py sets it for workers on "
                           "this machine).")
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ClusterError(f"TF_CONFIG is not JSON ({error}): {text!r}; {example}.") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ClusterError(f"TF_CONFIG needs a \"cluster\" and a \"task\" object; got {text!r}; "
                           f"{example}.")
    jobs = {name: addresses for name, addresses in cluster.items() if name in ("chief", "worker")}
    if not jobs or not all(isinstance(a, list) and a for a in jobs.values()):
        raise ClusterError(f"TF_CONFIG's cluster needs a non-empty \"worker\" (or \"chief\") "
                           f"list of host:port addresses; got {cluster!r}.")
    task_type, index = task.get("type"), task.get("index")
    if (task_type not in jobs or isinstance(index, bool) or not isinstance(index, int)
            or not 0 <= index < len(jobs[task_type])):
        raise ClusterError(f"TF_CONFIG's task {task!r} is not in its cluster {cluster!r}; give "
                           "\"type\" one of its jobs and \"index\" this process's position in it.")
    return jobs, task


def _wait_for(addresses, timeout_s, me):
    """Returns once every host:port of `addresses` accepts a TCP connection;
    raises `ClusterError` naming those that did not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    waiting = list(addresses)
    while waiting:
        waiting = [address for address in waiting if not _accepts(address)]
        if waiting and time.monotonic() > deadline:
            raise ClusterError(
                f"{me[0]} {me[1]} (the cluster's leader) could not reach "
                f"{', '.join(waiting)} within {timeout_s} s: no worker listens there. Start "
                f"every worker of TF_CONFIG within {timeout_s} s of the others, and check "
                "that the addresses are reachable from this machine.")
        if waiting:
            time.sleep(0.5)


def _accepts(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _configure_join_timeout(jobs, leader, timeout_s):
    """Makes the cluster's coordination service fail a worker that cannot
    register with it within `timeout_s`, instead of waiting an hour.

    `MultiWorkerMirroredStrategy` configures the service itself only when
    nothing did before; this is the same configuration with a timeout. No
    public TensorFlow API sets it.
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context

    if context.context().coordination_service is not None:
        return
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=f"/job:{leader[0]}/replica:0/task:{leader[1]}",
        cluster_register_timeout_in_ms=timeout_s * 1000,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=name, num_tasks=len(jobs[name]))
                          for name in ("chief", "worker") if name in jobs],
    )
