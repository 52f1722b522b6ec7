"""The benchmark suites: ``log``, ``ttft``, ``api``, ``recovery``, ``sandbox``, ``credentials`` (one module or
package each)."""
