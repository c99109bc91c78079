"""A search spread over processes or machines, with keras-tuner's chief/worker variables.

Every process runs the same ``python -m tfbig.tune`` command; keras-tuner's environment
variables give each its part:

    KERASTUNER_TUNER_ID=chief   KERASTUNER_ORACLE_IP=host1 KERASTUNER_ORACLE_PORT=8000
    KERASTUNER_TUNER_ID=tuner0  (same IP and PORT)   a worker; tuner1, tuner2, … the others

- The **chief** serves the oracle (which trial to run next) over gRPC and trains no trial.
  When the search is over it writes ``results.csv``, ``best_config.json`` and trains the best
  config into ``--output``/best, as a one-process search does: only the chief writes there.
- A **worker** asks the chief for a trial, trains it, reports its score, and asks again
  until the chief says the search is over. It trains in a temporary folder of its own
  (``$TMPDIR/tfbig-tune-<id>-*``), removed when it stops: its ``--output`` is not used, so
  several workers and the chief may share a filesystem (and one command line).

A worker that dies must not leave the chief waiting for ever (keras-team/keras-tuner#915):
while it runs a trial a worker sends the chief a heartbeat (a ``GetTrial`` call) every
``timeout / 5`` seconds, and the chief stops the search with :class:`LostContact` when a
worker still in the search has sent nothing for ``timeout`` seconds. A heartbeat rather
than a limit on a trial's duration, so that long trials stay fine; a dead process sends
nothing, whatever it was doing. Starting is slower than a heartbeat (TensorFlow's import, the
data checks, a cluster manager placing the processes), so before the first contact both
sides wait ``max(timeout, STARTUP_S)``: the chief for a first worker, a worker for the chief.
The chief's state is saved after every trial: the same commands resume the search (the lost
trial runs again).
"""

import contextlib
import os
import sys
import tempfile
import threading
import time
from concurrent import futures

from keras_tuner.src.distribute import oracle_chief, oracle_client
from keras_tuner.src.engine import trial as trial_module

from tfbig.errors import TfbigError

TUNER_ID, ORACLE_IP, ORACLE_PORT = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP",
                                    "KERASTUNER_ORACLE_PORT")
POLL_S = 0.2  # how often the chief checks on its workers
IDLE_WAIT_S = 0.5  # a worker's pause when the oracle has no trial for it yet
STARTUP_S = 600  # the least wait for the first contact between the chief and the workers


class LostContact(RuntimeError):
    """The chief heard nothing from a worker (or from any worker), or a worker nothing from
    the chief, for too long."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def role():
    """``None`` (one process), ``"chief"`` or ``"worker"``, from keras-tuner's variables,
    checked as keras-tuner's ``has_chief_oracle`` checks them, in one line."""
    if ORACLE_IP not in os.environ:
        return None
    missing = [name for name in (ORACLE_PORT, TUNER_ID) if not os.environ.get(name)]
    if missing:
        raise TfbigError(f"{ORACLE_IP} is set but not {' nor '.join(missing)}: a distributed "
                         f"search needs all three ({TUNER_ID}=chief on one process, tuner0, "
                         f"tuner1, … on the workers)")
    if not os.environ[ORACLE_PORT].isdigit():
        raise TfbigError(f"{ORACLE_PORT}={os.environ[ORACLE_PORT]!r}: expected a port number")
    # keras-tuner's own rule (distribute.utils.is_chief_oracle), so tfbig and keras-tuner agree.
    return "chief" if "chief" in os.environ[TUNER_ID] else "worker"


def startup_wait(timeout):
    return max(timeout, STARTUP_S)


def address():
    return f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}"


class Servicer(oracle_chief.OracleServicer):
    """keras-tuner's oracle service, noting when each worker last sent something and which
    trial it runs; logs each trial's start and end on the chief's stderr."""

    def __init__(self, oracle, ran):
        super().__init__(oracle)
        self.lock = threading.Lock()
        self.last_seen = {}  # tuner id → time.monotonic() of its last message
        self.running = {}  # tuner id → the trial id it runs
        self.active = set()  # tuner ids in the search: asked for a trial, not told to stop
        self.ran = ran  # trial id → the tuner id that ran it (filled in here)

    def _seen(self, trial_id=None, tuner_id=None):
        with self.lock:
            tuner_id = tuner_id or self.ran.get(trial_id)
            if tuner_id is not None:
                self.last_seen[tuner_id] = time.monotonic()

    def CreateTrial(self, request, context):
        tuner_id = request.tuner_id
        self._seen(tuner_id=tuner_id)
        response = super().CreateTrial(request, context)
        status = trial_module.TrialStatus.from_proto(response.trial.status)
        with self.lock:
            if status == trial_module.TrialStatus.STOPPED:
                self.active.discard(tuner_id)
            else:
                self.active.add(tuner_id)
            if status == trial_module.TrialStatus.RUNNING:
                trial_id = response.trial.trial_id
                new = self.running.get(tuner_id) != trial_id
                self.running[tuner_id] = trial_id
                self.ran[trial_id] = tuner_id
        if status == trial_module.TrialStatus.RUNNING and new:
            log(f"trial {trial_id}: sent to worker {tuner_id}")
        return response

    def UpdateTrial(self, request, context):
        self._seen(trial_id=request.trial_id)
        return super().UpdateTrial(request, context)

    def EndTrial(self, request, context):
        trial_id = request.trial.trial_id
        self._seen(trial_id=trial_id)
        response = super().EndTrial(request, context)
        with self.lock:
            tuner_id = self.ran.get(trial_id)
            self.running.pop(tuner_id, None)
        trial = self.oracle.get_trial(trial_id)
        score = f", score {trial.score:.4f}" if trial.score is not None else ""
        log(f"trial {trial_id}: {trial.status} on worker {tuner_id}{score} "
            f"({len(self.oracle.end_order)} done)")
        return response

    def GetTrial(self, request, context):  # also a worker's heartbeat
        self._seen(trial_id=request.trial_id)
        return super().GetTrial(request, context)

    def check(self, started, timeout):
        """Raise :class:`LostContact` if a worker in the search has been silent for
        ``timeout`` seconds, or no worker has come within ``timeout`` of ``started``."""
        now = time.monotonic()
        with self.lock:
            for tuner_id in sorted(self.active):
                silent = now - self.last_seen[tuner_id]
                if silent > timeout:
                    trial = (f" while running trial {self.running[tuner_id]}"
                             if tuner_id in self.running else "")
                    raise LostContact(
                        f"worker {tuner_id} sent nothing for {silent:.0f} s{trial} (it "
                        f"crashed, hangs or lost the network; --worker-timeout {timeout:g}); "
                        f"the search stops, its state saved: start the chief and the workers "
                        f"again with the same commands to resume it")
            if not self.last_seen and now - started > startup_wait(timeout):
                raise LostContact(
                    f"no worker asked the chief at {address()} for a trial within "
                    f"{startup_wait(timeout):g} s: start the workers with the same command, "
                    f"{ORACLE_IP} and {ORACLE_PORT}, and {TUNER_ID}=tuner0, tuner1, …")

    def done(self):
        """Whether the search is over: the oracle has stopped it and every worker that
        joined has been told (keras-tuner's ``exit_chief``, without its 20 s sleeps)."""
        with self.lock:
            return self.stop_triggered and not self.active


def serve(oracle, timeout, ran):
    """The chief's part: serve ``oracle`` until the search is over (see the module
    docstring), noting in ``ran`` which worker ran each trial (trial id → tuner id);
    :class:`LostContact` when a worker is lost."""
    import grpc
    from keras_tuner.src import protos

    # keras-tuner's start_server, with the checks on the workers in its wait loop. Four
    # threads: heartbeats must not queue behind another worker's request.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = Servicer(oracle, ran)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address()) == 0:
        raise TfbigError(f"{ORACLE_IP}:{ORACLE_PORT} = {address()}: cannot listen there (the "
                         f"port is taken, or the address is not this machine's)")
    server.start()
    log(f"chief: serving the search at {address()}; the workers train the trials")
    started = time.monotonic()
    try:
        while not servicer.done():
            time.sleep(POLL_S)
            servicer.check(started, timeout)
    finally:
        server.stop(grace=1).wait()


class WorkerClient(oracle_client.OracleClient):
    """keras-tuner's client to the chief's oracle, waiting ``timeout`` seconds for each
    answer (``startup_wait(timeout)`` for the first), and pausing between requests while the
    oracle has no trial to give (keras-tuner asks again at once, keeping a CPU busy)."""

    def __init__(self, oracle, timeout):
        super().__init__(oracle)
        self.timeout = timeout
        self.joined = False

    def create_trial(self, tuner_id):
        # keras-tuner waits up to an hour for each answer of the chief: its module constant
        # TIMEOUT, read at each call. A worker process serves one search, so setting it here
        # is safe, and a lost chief ends the worker too.
        oracle_client.TIMEOUT = self.timeout if self.joined else startup_wait(self.timeout)
        trial = super().create_trial(tuner_id)
        self.joined = True
        oracle_client.TIMEOUT = self.timeout
        if trial.status == trial_module.TrialStatus.IDLE:
            time.sleep(IDLE_WAIT_S)
        return trial

    @contextlib.contextmanager
    def heartbeat(self, trial_id, interval):
        """Tell the chief every ``interval`` seconds that this worker still runs
        ``trial_id`` (in a thread, while the trial trains in the main one)."""
        stop = threading.Event()

        def beat():
            while not stop.wait(interval):
                try:
                    self.get_trial(trial_id)
                except Exception:  # the chief is gone: the trial's report will say so
                    return

        thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def connect_worker(tuner, timeout):
    """Replace the ``OracleClient`` keras-tuner gave ``tuner`` by a :class:`WorkerClient`."""
    tuner.oracle = WorkerClient(tuner.oracle._oracle, timeout)


@contextlib.contextmanager
def worker_folder():
    """A temporary folder for this worker's trials, removed when the worker stops."""
    with tempfile.TemporaryDirectory(
            prefix=f"tfbig-tune-{os.environ[TUNER_ID]}-") as folder:
        yield folder


def chief_lost_error(error, timeout):
    """A worker's one-line error for a failed call to the chief (a ``grpc.RpcError``)."""
    code = getattr(error, "code", lambda: None)()
    why = getattr(code, "name", type(error).__name__)
    return LostContact(f"the chief at {address()} did not answer ({why}; --worker-timeout "
                       f"{timeout:g}): it has stopped, or is not started ({TUNER_ID}=chief, "
                       f"the same {ORACLE_IP} and {ORACLE_PORT})")


def run_worker(make_searcher, timeout):
    """A worker's part: train the trials the chief sends, in a temporary folder
    (``make_searcher(folder)`` gives the tuner), until the chief says the search is over.
    Returns ``{"worker": its id, "trials": the trial ids it trained, "trained": them in
    words}``."""
    import grpc

    tuner_id = os.environ[TUNER_ID]
    with worker_folder() as folder:
        log(f"worker {tuner_id}: training the trials the chief at {address()} sends, in "
            f"{folder} (removed at the end)")
        try:
            make_searcher(folder).search()
        except grpc.RpcError as error:
            raise chief_lost_error(error, timeout) from None
        project = os.path.join(folder, "search")
        trials = sorted(name[len("trial_"):] for name in
                        (os.listdir(project) if os.path.isdir(project) else [])
                        if name.startswith("trial_"))
    log(f"worker {tuner_id}: the search is over; it trained {trained(trials)}")
    return {"worker": tuner_id, "trials": trials, "trained": trained(trials)}


def trained(trials):
    """``trials 0001, 0003`` / ``trial 0002`` / ``no trial``."""
    if not trials:
        return "no trial"
    return f"trial{'s' * (len(trials) > 1)} {', '.join(trials)}"
