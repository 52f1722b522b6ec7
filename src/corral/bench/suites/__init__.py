"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials``, ``files``,
``memory`` (one module or package each)."""
