"""Every playbook in playbooks/ loads; a broken one names file, line and field, and the store
keeps the last good set."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controlplane.playbook.actions import registry
from controlplane.playbook.loader import PlaybookError, PlaybookStore, load_playbooks

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = list(yaml.safe_load((REPO / "policies" / "modes.yaml").read_text())["operations"])


def test_every_playbook_in_the_repo_loads() -> None:
    books = load_playbooks(REPO / "playbooks", registry(), OPERATIONS)
    ml = {"drift-check", "performance-review", "retrain"}
    assert {"rollback", "incident", "release", "secret-breach"} | ml <= set(books)
    assert len(books["rollback"].spec.steps) == 7


@pytest.mark.parametrize(
    ("edit", "line", "field", "reason"),
    [
        ('      release: "{{ steps.target.outputs.nope }}"', 29, "steps.2.with", "not an output"),
        (
            '      release: "{{ steps.verify.outputs.healthy }}"',
            29,
            "steps.2.with",
            "not an earlier step",
        ),
        ('      release: "{{ inputs.colour }}"', 29, "steps.2.with", "not a declared input"),
    ],
)
def test_a_bad_reference_names_file_line_and_field(
    tmp_path: Path, edit: str, line: int, field: str, reason: str
) -> None:
    text = (REPO / "playbooks" / "rollback.yaml").read_text().splitlines()
    index = next(i for i, t in enumerate(text) if 'release: "{{ steps.target' in t)
    text[index] = edit
    (tmp_path / "rollback.yaml").write_text("\n".join(text))
    with pytest.raises(PlaybookError) as err:
        load_playbooks(tmp_path, registry(), OPERATIONS)
    assert err.value.field == field and reason in err.value.reason
    assert err.value.line is not None and abs(err.value.line - (index + 1)) <= 6


def test_unknown_action_and_unknown_key_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("name: x\ndescription: d\nsteps:\n  - {id: a, action: nope}\n")
    with pytest.raises(PlaybookError, match=r"x\.yaml:4: steps\.0\.action: unknown action 'nope'"):
        load_playbooks(tmp_path, registry(), OPERATIONS)
    (tmp_path / "x.yaml").write_text(
        "name: x\ndescription: d\nsteps:\n  - {id: a, action: notify, colour: red}\n"
    )
    with pytest.raises(PlaybookError, match=r"steps\.0\.colour"):
        load_playbooks(tmp_path, registry(), OPERATIONS)


def test_the_store_keeps_the_last_good_set(tmp_path: Path) -> None:
    good = "name: x\ndescription: d\nsteps:\n  - {id: a, action: notify, with: {subject: hi}}\n"
    (tmp_path / "x.yaml").write_text(good)
    store = PlaybookStore(tmp_path, registry(), check_every_s=0)
    assert store.get("x") is not None
    (tmp_path / "x.yaml").write_text(good.replace("notify", "nope"))
    assert store.reload() is False
    assert store.get("x") is not None and "unknown action" in (store.last_error or "")
