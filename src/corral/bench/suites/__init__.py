"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials``, ``files``,
``memory``, ``snapshots``, ``work`` (one module or package each)."""
