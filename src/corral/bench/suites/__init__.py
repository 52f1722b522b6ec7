"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials``, ``files``,
``memory``, ``snapshots``, ``deployments``, ``work``, ``scale`` (one module or package each)."""
