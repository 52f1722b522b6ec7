"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials``, ``files``,
``memory``, ``snapshots`` (one module or package each)."""
