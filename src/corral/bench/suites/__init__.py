"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox`` (one module or package each)."""
