"""Starts N workers of a multi-worker run on this machine, for trying
`--strategy=multi_worker` on one box.

    python scripts/launch_local_cluster.py --num_workers=2 -- \\
        python scripts/train.py --flagfile=configs/quickstart.cfg --strategy=multi_worker

Each worker runs the command after `--` with TF_CONFIG describing a cluster
of N workers on free 127.0.0.1 ports, and this worker's index in it; its
output goes to --worker_logs/worker-I.log (or to this terminal, prefixed, with
no --worker_logs). When a worker fails, the others are stopped. The exit status
is the first failed worker's, or 0.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading

from absl import app, flags

flags.DEFINE_integer("num_workers", 2, "Number of worker processes.")
flags.DEFINE_string("worker_logs", None, "Folder of the workers' logs, worker-I.log each; by "
                    "default they print here, each line prefixed with [worker I].")
FLAGS = flags.FLAGS


def fail(message):
    print(f"launch_local_cluster.py: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def parse_flags(argv):
    """absl's parser, with a parse error as one line and exit status 2."""
    try:
        return FLAGS(argv)
    except flags.Error as error:
        fail(str(error))


def free_ports(count):
    """`count` distinct loopback ports that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_configs(ports):
    """TF_CONFIG of each worker of a cluster on `ports` of 127.0.0.1."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            for index in range(len(ports))]


def _relay(stream, prefix):
    for line in stream:
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def main(argv):
    command = argv[1:]
    if FLAGS.num_workers < 1:
        fail(f"--num_workers={FLAGS.num_workers} must be at least 1.")
    if not command:
        fail("give the command every worker runs after --, e.g. -- python scripts/train.py "
             "--flagfile=configs/quickstart.cfg --strategy=multi_worker")
    if FLAGS.worker_logs:
        os.makedirs(FLAGS.worker_logs, exist_ok=True)
    workers, relays = [], []
    for index, config in enumerate(tf_configs(free_ports(FLAGS.num_workers))):
        env = dict(os.environ, TF_CONFIG=config)
        if FLAGS.worker_logs:
            log = open(os.path.join(FLAGS.worker_logs, f"worker-{index}.log"), "w")
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
        else:
            process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            relay = threading.Thread(target=_relay, args=(process.stdout, f"[worker {index}] "))
            relay.start()
            relays.append(relay)
        workers.append(process)
    status = _wait(workers)
    for relay in relays:
        relay.join()
    return status


def _wait(workers):
    """Waits for every worker; the first to fail stops the others (which
    would otherwise wait for it). Returns the first failure's status, or 0."""
    running = list(workers)
    status = 0
    while running:
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            break
        for process in list(running):
            code = process.poll()
            if code is None:
                continue
            running.remove(process)
            if code and not status:
                # A worker killed by signal S exits as a shell reports it, 128 + S.
                status = code if code > 0 else 128 - code
                for other in running:
                    other.send_signal(signal.SIGTERM)
    return status


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)), flags_parser=parse_flags)
