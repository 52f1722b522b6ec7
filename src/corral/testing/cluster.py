"""``Cluster``: a deployment of corral on one machine, each role its own process: two ``corral serve`` (API only),
two ``corral worker`` (the ``remote`` sandbox provider) and two ``corral sandbox-host`` (separate data
directories), on one PostgreSQL and one S3-protocol blob store, with workspace snapshots on.

Used by ``tests/cluster`` and by ``script/cluster`` (``python -m corral.testing.cluster``, which prints the API URLs
and stops everything on Ctrl-C). The database and the blob store are the caller's: ``script/cluster`` starts them
with ``script/lib/postgres.sh`` and ``script/lib/moto.sh``.

Invariants:

* Every process is a ``CorralProcess`` (``corral.testing.processes``): nothing else starts corral processes here.
* All share the database, the blob store, the vault key and the host token; each has a data directory of its
  own under ``root`` (``serve0``, ``worker1``, ``host0`` …), holding its log.
* Start order: the first ``serve`` alone (it migrates the database before anyone else opens it), then the other
  API processes and the hosts side by side, then the workers side by side (a worker finds hosts registered from
  its first session on). ``start()`` returns when every process is ready (``/healthz`` answers, or the worker
  says it runs).
"""

from __future__ import annotations

import argparse
import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corral.testing.processes import CorralProcess, free_port, healthz, log_says, scrubbed_env
from corral.vault import new_entry

#: what ``corral worker`` writes once it runs (``corral.cli.worker``)
WORKER_READY = "corral: worker "


@dataclass
class Cluster:
    db_url: str
    root: Path
    #: every process's extra settings: the blob store (``CORRAL_BLOB_URL`` …), the model provider's …
    env: Mapping[str, str]
    api_key: str = field(default_factory=lambda: "sk-corral-cluster-" + secrets.token_urlsafe(24))
    token: str = field(default_factory=lambda: "corral-host-" + secrets.token_urlsafe(24))
    vault_key: str = field(default_factory=new_entry)
    size: int = 2
    serves: list[CorralProcess] = field(default_factory=lambda: list[CorralProcess]())
    hosts: list[CorralProcess] = field(default_factory=lambda: list[CorralProcess]())
    workers: list[CorralProcess] = field(default_factory=lambda: list[CorralProcess]())

    def __post_init__(self) -> None:
        for i in range(self.size):
            port = free_port()
            args = ["serve", "--port", str(port)]
            self.serves.append(self._process(f"serve{i}", args, functools.partial(healthz, _url(port))))
        for i in range(self.size):
            port = free_port()
            args = ["sandbox-host", "--port", str(port)]
            self.hosts.append(self._process(f"host{i}", args, functools.partial(healthz, _url(port))))
        for i in range(self.size):
            ready = functools.partial(log_says, self._log(f"worker{i}"), WORKER_READY)
            self.workers.append(self._process(f"worker{i}", ["worker"], ready))

    @property
    def api_urls(self) -> list[str]:
        return [_url(int(serve.args[-1])) for serve in self.serves]

    def all(self) -> list[CorralProcess]:
        return [*self.serves, *self.hosts, *self.workers]

    def data_dir(self, name: str) -> Path:
        return self.root / name

    def _log(self, name: str) -> Path:
        return self.data_dir(name) / "corral.log"

    def _process(self, name: str, args: list[str], readiness: Callable[[], Callable[[], bool]]) -> CorralProcess:
        env = {
            "CORRAL_DATABASE_URL": self.db_url,
            "CORRAL_DATA_DIR": str(self.data_dir(name)),
            "CORRAL_HOST": "127.0.0.1",
            "CORRAL_API_KEY": self.api_key,
            "CORRAL_VAULT_KEY": self.vault_key,
            "CORRAL_SANDBOX_HOST_TOKEN": self.token,
            "CORRAL_SANDBOX_PROVIDER": "remote",
            "CORRAL_WORKSPACE_SNAPSHOTS": "on",
            "CORRAL_WORKERS": "0",
            **self.env,
        }
        # generous: on a loaded machine a first start (migrations, a sandbox host's disk image) takes a while
        return CorralProcess(args, scrubbed_env(env), self._log(name), readiness, start_timeout=180.0)

    def start(self) -> None:
        try:
            self.serves[0].start()  # it migrates the database before anyone else opens it
            for side_by_side in ([*self.serves[1:], *self.hosts], self.workers):
                launched = [(process, process.launch()) for process in side_by_side]
                for process, ready in launched:
                    process.wait_ready(ready)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Workers first (they hand their sessions back), then hosts (they write back what sandboxes left), then
        the API."""
        for process in reversed(self.all()):
            process.stop()


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


#: what ``script/cluster`` hands on from its caller's environment (the model providers; egress, off by default)
PASSED_ON = ("ANTHROPIC_", "OPENAI_", "CORRAL_CONFIG", "CORRAL_EGRESS", "CORRAL_LEASE_TTL")


async def s3_bucket_env(endpoint: str, access_key: str) -> dict[str, str]:
    """A fresh bucket on the S3-protocol server at ``endpoint`` (moto takes any credentials), as settings."""
    from aiobotocore.session import get_session

    bucket = f"corral-cluster-{secrets.token_hex(4)}"
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=access_key,
    ) as client:
        await client.create_bucket(Bucket=bucket)
    return {
        "CORRAL_BLOB_URL": f"s3://{bucket}/corral",
        "CORRAL_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def main(argv: list[str] | None = None) -> None:
    import os
    import signal
    import sys
    import tempfile

    import anyio

    parser = argparse.ArgumentParser(prog="python -m corral.testing.cluster", description=__doc__)
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--s3-endpoint", required=True, help="an S3-protocol server (a fresh bucket is made)")
    parser.add_argument("--root", type=Path, help="where the processes' data directories go (default: a new one)")
    args = parser.parse_args(argv)
    root: Path = args.root or Path(tempfile.mkdtemp(prefix="corral-cluster-"))
    passed = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    env = {"CORRAL_EGRESS": "0", **passed, **anyio.run(s3_bucket_env, args.s3_endpoint, "corral-cluster")}
    cluster = Cluster(args.database_url, root, env)
    print(f"corral cluster: starting in {root}", file=sys.stderr, flush=True)
    cluster.start()
    try:
        for url in cluster.api_urls:
            print(f"API  {url}")
        print(f"key  {cluster.api_key}")
        print(f"logs {root}/*/corral.log")
        print("Ctrl-C stops everything.", flush=True)
        # blocked only now, as children inherit the mask; sigwait then receives them
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
