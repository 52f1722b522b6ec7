"""A repository that cannot be cloned is a ``session.error`` of the type git's answer shows (api.md §7.3), carrying
``repository_url``; the sandbox is used anyway (the session keeps running, without the repository) and a fresh
sandbox tries again."""

from __future__ import annotations

import pytest

from corral._types import JSONObject
from tests.github.conftest import HOST, REPOSITORY, Session, World, resource

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


def _cases(world: World) -> list[tuple[JSONObject, str, str | None]]:
    """(resource, error type, token if not the right one)."""
    server = world.repositories.server
    url = server.clone_url(REPOSITORY)
    return [
        (resource(server.clone_url("acme/missing")), "repository_not_found_error", None),
        (resource(url), "repository_authentication_error", "ghs_not_the_token"),
        (resource(server.clone_url("acme/secret")), "repository_forbidden_error", None),
        (resource(url, {"type": "branch", "name": "no-such-branch"}), "repository_checkout_error", None),
        (resource(url, {"type": "commit", "sha": "0" * 40}), "repository_checkout_error", None),
        (resource(url, mount_path="/tmp/widgets"), "repository_checkout_error", None),
        (resource(f"http://{HOST}:1/{REPOSITORY}"), "repository_clone_error", None),  # nothing listens there
    ]


@pytest.mark.parametrize("case", range(7))
async def test_a_repository_that_cannot_be_cloned_is_a_typed_notice_and_the_session_goes_on(
    world: World, case: int
) -> None:
    repository, error_type, token = _cases(world)[case]
    session = Session(world, [repository], token=token)
    assert (await session.ok("echo still here; ls -A /workspace")).split() == ["still", "here"]
    notices = session.notices()
    assert [(n.error_type, n.fields) for n in notices] == [(error_type, (("repository_url", repository["url"]),))]
    assert str(repository["url"]) in notices[0].message
    assert world.repositories.token not in notices[0].message

    await session.hands.release()  # a fresh sandbox tries again, and says so again
    await session.ok("true")
    assert [n.error_type for n in session.notices()] == [error_type]
