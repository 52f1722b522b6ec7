"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials``, ``files`` (one
module or package each)."""
