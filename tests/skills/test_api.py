"""``client.beta.skills`` and ``.versions`` through the official SDK, on both engines with the local blob store:
every method, the response forms, downloads byte for byte, versions and ``latest``, pagination, workspace scoping
and the refusals of what is not supported."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.beta import BetaDeletedSkill, BetaSkill
from anthropic.types.beta.skills import BetaDeletedSkillVersion, BetaSkillVersion

from tests.conformance.helpers import validated
from tests.skills.conftest import skill_files, skill_md, unique_name, unzipped


def create(client: anthropic.Anthropic, name: str, display_name: str | None = None) -> BetaSkill:
    return client.beta.skills.create(files=skill_files(name), display_name=display_name)


def test_create_retrieve_list_delete(client: anthropic.Anthropic) -> None:
    name = unique_name()
    made = validated(BetaSkill, client.beta.skills.with_raw_response.create(files=skill_files(name)))
    assert made.id.startswith("skill_") and made.type == "skill" and made.source.type == "custom"
    assert made.display_name == name and made.created_at == made.updated_at
    assert validated(BetaSkill, client.beta.skills.with_raw_response.retrieve(made.id)) == made
    assert made.id in [listed.id for listed in client.beta.skills.list(limit=100)]
    version = client.beta.skills.versions.retrieve(made.latest_version_id, skill_id=made.id)
    assert version.name == name and version.description == "Does a thing well." and version.skill_id == made.id
    deleted = validated(BetaDeletedSkill, client.beta.skills.with_raw_response.delete(made.id))
    assert deleted.id == made.id and deleted.type == "skill_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.beta.skills.retrieve(made.id)
    with pytest.raises(anthropic.NotFoundError):
        client.beta.skills.versions.retrieve(made.latest_version_id, skill_id=made.id)  # versions went with it
    assert made.id not in [listed.id for listed in client.beta.skills.list(limit=100)]


def test_display_name_is_kept_or_refused(client: anthropic.Anthropic) -> None:
    assert create(client, unique_name(), "Quarterly reports").display_name == "Quarterly reports"
    with pytest.raises(anthropic.BadRequestError, match="display_name"):
        create(client, unique_name(), "x" * 256)


def test_download_is_the_uploaded_files_byte_for_byte(client: anthropic.Anthropic) -> None:
    name = unique_name()
    files = skill_files(name, [(f"{name}/data/blob.bin", bytes(range(256)) * 4000), (f"{name}/émoji ✓.md", b"ok")])
    made = client.beta.skills.create(files=files)
    for version in (made.latest_version_id, "latest"):
        response = client.beta.skills.versions.download(version, skill_id=made.id)
        assert response.headers["content-type"] == "application/zip"
        assert f'filename="{name}.zip"' in response.headers["content-disposition"]
        assert unzipped(response.read()) == dict(files)


def test_versions_roundtrip_and_latest(client: anthropic.Anthropic) -> None:
    name = unique_name()
    made = create(client, name)
    first = made.latest_version_id
    raw = client.beta.skills.versions.with_raw_response.create(
        made.id, files=[(f"{name}/SKILL.md", skill_md(name, "Second take."))]
    )
    second = validated(BetaSkillVersion, raw)
    assert second.id.startswith("skillver_") and second.type == "skill_version" and second.id != first
    assert second.description == "Second take." and second.name == name
    skill = client.beta.skills.retrieve(made.id)
    assert skill.latest_version_id == second.id and skill.updated_at > skill.created_at
    assert client.beta.skills.versions.retrieve("latest", skill_id=made.id) == second
    assert [version.id for version in client.beta.skills.versions.list(made.id)] == [second.id, first]
    assert unzipped(client.beta.skills.versions.download(first, skill_id=made.id).read()) == dict(skill_files(name))
    gone = validated(
        BetaDeletedSkillVersion, client.beta.skills.versions.with_raw_response.delete(second.id, skill_id=made.id)
    )
    assert gone.id == second.id and gone.type == "skill_version_deleted"
    assert client.beta.skills.retrieve(made.id).latest_version_id == first  # latest falls back to the newest left
    with pytest.raises(anthropic.NotFoundError):
        client.beta.skills.versions.retrieve(second.id, skill_id=made.id)
    with pytest.raises(anthropic.BadRequestError, match="only version"):
        client.beta.skills.versions.delete(first, skill_id=made.id)
    assert client.beta.skills.versions.retrieve("latest", skill_id=made.id).id == first


def test_a_version_must_keep_the_skills_name(client: anthropic.Anthropic) -> None:
    made = create(client, unique_name())
    renamed = unique_name("renamed")
    with pytest.raises(anthropic.BadRequestError, match="never changes"):
        client.beta.skills.versions.create(made.id, files=skill_files(renamed))
    assert [version.id for version in client.beta.skills.versions.list(made.id)] == [made.latest_version_id]


def test_a_taken_name_is_409(client: anthropic.Anthropic) -> None:
    name = unique_name()
    made = create(client, name)
    with pytest.raises(anthropic.ConflictError) as caught:
        create(client, name)
    assert made.id in caught.value.message
    client.beta.skills.delete(made.id)
    assert create(client, name).id != made.id  # a deleted skill frees its name


def test_lists_page_to_the_end_newest_first(client: anthropic.Anthropic) -> None:
    made = [create(client, unique_name("page")).id for _ in range(4)]
    seen = [listed.id for listed in client.beta.skills.list(limit=2)]  # the SDK's auto-pager follows next_page
    assert len(seen) == len(set(seen)) and [skill_id for skill_id in seen if skill_id in made] == made[::-1]
    first = client.beta.skills.list(limit=2)
    assert len(first.data) == 2 and first.next_page is not None
    assert client.beta.skills.list(source="anthropic").data == []  # no Anthropic-provided skills here
    assert made[0] in [listed.id for listed in client.beta.skills.list(source="custom", limit=1000)]
    name = unique_name()
    skill = create(client, name)
    versions = [skill.latest_version_id]
    for index in range(4):
        files = [(f"{name}/SKILL.md", skill_md(name, f"Take {index}."))]
        versions.append(client.beta.skills.versions.create(skill.id, files=files).id)
    assert [version.id for version in client.beta.skills.versions.list(skill.id, limit=2)] == versions[::-1]
    with pytest.raises(anthropic.BadRequestError):
        client.beta.skills.list(limit=1001)
    with pytest.raises(anthropic.BadRequestError):
        client.beta.skills.list(page="page_nonsense")
    with pytest.raises(anthropic.BadRequestError, match="source"):
        client.beta.skills.list(source="elsewhere")


def test_another_workspace_sees_nothing(client: anthropic.Anthropic, other: anthropic.Anthropic) -> None:
    name = unique_name()
    made = create(client, name)
    version = made.latest_version_id
    calls = [
        lambda: other.beta.skills.retrieve(made.id),
        lambda: other.beta.skills.delete(made.id),
        lambda: other.beta.skills.versions.list(made.id),
        lambda: other.beta.skills.versions.retrieve(version, skill_id=made.id),
        lambda: other.beta.skills.versions.download(version, skill_id=made.id),
        lambda: other.beta.skills.versions.delete(version, skill_id=made.id),
        lambda: other.beta.skills.versions.create(made.id, files=skill_files(name)),
    ]
    for call in calls:
        with pytest.raises(anthropic.NotFoundError):
            call()
    assert made.id not in [listed.id for listed in other.beta.skills.list(limit=1000)]
    assert client.beta.skills.retrieve(made.id) == made  # the other workspace's writes were refused, not done
    assert other.beta.skills.create(files=skill_files(name)).id != made.id  # names are per workspace


def test_unknown_ids_are_404(client: anthropic.Anthropic) -> None:
    made = create(client, unique_name())
    for skill_id in ("skill_doesnotexist000000000000", "file_wrongprefix", "nonsense"):
        with pytest.raises(anthropic.NotFoundError):
            client.beta.skills.retrieve(skill_id)
    for version in ("skillver_doesnotexist0000000000", "1759178010641129"):
        with pytest.raises(anthropic.NotFoundError):
            client.beta.skills.versions.retrieve(version, skill_id=made.id)


def test_anthropic_skills_are_refused_by_name(client: anthropic.Anthropic) -> None:
    calls = [
        lambda: client.beta.skills.retrieve("xlsx"),
        lambda: client.beta.skills.delete("pdf"),
        lambda: client.beta.skills.versions.list("docx"),
        lambda: client.beta.skills.versions.retrieve("latest", skill_id="pptx"),
        lambda: client.beta.skills.versions.download("latest", skill_id="xlsx"),
        lambda: client.beta.skills.versions.create("xlsx", files=skill_files("xlsx")),
    ]
    for call in calls:
        with pytest.raises(anthropic.BadRequestError, match="Anthropic-provided skills"):
            call()
    with pytest.raises(anthropic.BadRequestError, match=r"Anthropic-provided skills \('xlsx'\)"):
        client.beta.agents.create(name="a", model="claude-m", skills=[{"type": "anthropic", "skill_id": "xlsx"}])
