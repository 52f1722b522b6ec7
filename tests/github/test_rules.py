"""The rules without a sandbox: which requests a repository token applies to, how it travels on the control
channel, and which ``session.error`` a failed clone is."""

from __future__ import annotations

import pytest

from corral.egress.repositories import RepositoryToken, for_request, on_host, parse_all
from corral.resources.github import classify, clone_step, default_mount_path
from corral.testing.git import basic


def _token(url: str = "https://github.com/acme/widgets.git", token: str = "ghs_secret") -> RepositoryToken:
    made = RepositoryToken.for_url("sesrsc_1", url, token)
    assert made is not None
    return made


def test_a_repository_url_gives_its_scheme_host_port_and_path() -> None:
    made = _token("https://GitHub.com/acme/widgets.git/")
    assert (made.scheme, made.host, made.port, made.path) == ("https", "github.com", 443, "/acme/widgets")
    assert _token("http://127.0.0.2:8080/acme/widgets").port == 8080
    for url in ("ssh://github.com/acme/w", "https://user@github.com/acme/w", "https://github.com/", "not a url"):
        assert RepositoryToken.for_url("sesrsc_1", url, "t") is None, url
    assert RepositoryToken.for_url("sesrsc_1", "https://github.com/acme/w", "") is None
    assert "ghs_secret" not in repr(made)


@pytest.mark.parametrize(
    ("scheme", "host", "port", "path", "applies"),
    [
        ("https", "github.com", 443, "/acme/widgets/info/refs?service=git-upload-pack", True),
        ("https", "github.com", 443, "/acme/widgets.git/git-receive-pack", True),
        ("https", "github.com", 443, "/acme/widgets", True),
        ("http", "github.com", 443, "/acme/widgets/info/refs", False),  # never in clear
        ("https", "api.github.com", 443, "/acme/widgets/info/refs", False),
        ("https", "github.com", 8443, "/acme/widgets/info/refs", False),
        ("https", "github.com", 443, "/acme/widgets-2/info/refs", False),
        ("https", "github.com", 443, "/acme/other/info/refs", False),
        ("https", "github.com", 443, "/acme/widgets/../other/info/refs", False),
        ("https", "github.com", 443, "/acme/widgets/%2E%2E/other/info/refs", False),
        ("https", "github.com", 443, "/acme/widgets%2F..%2Fother/info/refs", False),
        ("https", "github.com", 443, "/acme/widgets/..%5Cother/info/refs", False),
    ],
)
def test_a_token_applies_to_its_repository_only(scheme: str, host: str, port: int, path: str, applies: bool) -> None:
    assert _token().applies(scheme, host, port, path) is applies


def test_the_innermost_repository_wins_and_tls_is_terminated_for_https_hosts_only() -> None:
    outer, inner = _token("https://git.example.com/group/repo"), _token("https://git.example.com/group/repo/sub")
    assert for_request((outer, inner), "https", "git.example.com", 443, "/group/repo/sub/info/refs") is inner
    assert for_request((outer, inner), "https", "git.example.com", 443, "/group/repo/info/refs") is outer
    assert on_host((outer,), "git.example.com") and not on_host(
        (_token("http://git.example.com/a/b"),), "git.example.com"
    )


def test_a_token_travels_on_the_control_channel_and_is_checked_there() -> None:
    made = _token()
    assert parse_all([made.message()]) == (made,)
    assert made.authorization == basic("ghs_secret") and made.secrets == ("ghs_secret", basic("ghs_secret")[6:])
    for broken in (
        {**made.message(), "path": "/acme/../x"},
        {**made.message(), "token": ""},
        {**made.message(), "host": "GitHub.com"},
    ):
        with pytest.raises(ValueError) as raised:
            parse_all([broken])
        assert "ghs_secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("output", "error_type"),
    [
        (
            "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
            "repository_authentication_error",
        ),
        ("fatal: Authentication failed for 'https://github.com/acme/w/'", "repository_authentication_error"),
        (
            "fatal: unable to access 'https://github.com/acme/w/': The requested URL returned error: 403",
            "repository_forbidden_error",
        ),
        ("fatal: repository 'https://github.com/acme/w/' not found", "repository_not_found_error"),
        ("fatal: Remote branch nope not found in upstream origin", "repository_checkout_error"),
        ("corral: checkout failed: commit 0000", "repository_checkout_error"),
        (
            "remote: corral egress refused this request: github.com is not allowed\n...error: 403",
            "repository_clone_error",
        ),
        ("fatal: unable to access 'https://github.com/acme/w/': Could not resolve proxy", "repository_clone_error"),
    ],
)
def test_a_failed_clone_is_the_error_git_said(output: str, error_type: str) -> None:
    assert classify(output) == error_type


def test_a_resource_is_one_step_with_its_url_and_no_secret() -> None:
    step = clone_step({"type": "github_repository", "id": "sesrsc_1", "url": "https://github.com/acme/widgets.git"})
    assert step is not None and step.fields == (("repository_url", "https://github.com/acme/widgets.git"),)
    assert "dest=/workspace/widgets;" in step.command
    assert default_mount_path("https://github.com/acme/widgets.git") == "/workspace/widgets"
    assert clone_step({"type": "file", "file_id": "file_1"}) is None
