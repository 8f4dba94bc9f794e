"""The router over a small two-pack tree: task sentences find their skill, routes run through the
routers, nonsense is not confident, and answers follow edits at once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from skill_lsp.agent_api import list_request, resolve_request, route_request
from skill_lsp.index import SkillIndex

TREE = Path(__file__).parent / "fixtures" / "route_tree"


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A private copy, so that edits on disk never touch the fixture."""
    dst = tmp_path / "tree"
    shutil.copytree(TREE, dst)
    return dst


@pytest.fixture()
def ix(tree: Path) -> SkillIndex:
    return SkillIndex.from_roots([str(tree)])


def top(ix: SkillIndex, query: str, **params: object) -> dict:
    answer = route_request(ix, {"query": query, **params})
    assert answer["results"], query
    return answer["results"][0]


@pytest.mark.parametrize(("query", "expected"), [
    ("my cabbages have holes in them every morning", "garden/using-garden/pest-control.md"),
    ("the brake lever goes all the way to the handlebar", "bikes/using-bikes/brake-bleeding.md"),
    ("the rim wobbles from side to side when I spin it", "bikes/wheel-truing"),
    ("my compost heap smells terrible", "garden/composting"),
    ("when should I cut back my plum tree", "garden/pruning"),
    ("how do I measure how worn my bike chain is", "bikes/chain-care"),
    ("is my soil too acid for vegetables", "garden/using-garden/soil-testing.md"),
])
def test_task_sentences_find_their_skill_first(ix: SkillIndex, query: str, expected: str) -> None:
    answer = route_request(ix, {"query": query})
    assert answer["results"][0]["id"] == expected
    assert answer["confident"] is True


def test_exact_routing_phrase_wins(ix: SkillIndex) -> None:
    hit = top(ix, "Holes chewed in cabbage leaves overnight")
    assert hit["id"] == "garden/using-garden/pest-control.md"
    assert "routing phrase" in hit["why"] and "garden/using-garden" in hit["why"]


def test_route_runs_from_the_top_router_through_the_pack_router(ix: SkillIndex) -> None:
    hit = top(ix, "hydraulic brakes feel spongy")
    assert hit["id"] == "bikes/using-bikes/brake-bleeding.md"
    assert hit["route"] == ["using-workshop", "bikes/using-bikes", "bikes/using-bikes/brake-bleeding.md"]
    hit = top(ix, "compost heap stays cold")
    assert hit["route"] == ["using-workshop", "garden/using-garden", "garden/composting"]


def test_result_shape(ix: SkillIndex, tree: Path) -> None:
    answer = route_request(ix, {"query": "true a wheel with a spoke key", "limit": 2})
    assert set(answer) == {"results", "confident"}
    assert len(answer["results"]) == 2
    hit = answer["results"][0]
    assert set(hit) == {"id", "name", "kind", "uri", "score", "description", "route", "why"}
    assert hit["kind"] == "skill" and hit["name"] == "wheel-truing"
    assert hit["uri"] == (tree / "plugins/bikes/skills/wheel-truing/SKILL.md").resolve().as_uri()
    assert hit["description"].startswith("Use when a bicycle wheel wobbles")
    assert answer["results"][0]["score"] >= answer["results"][1]["score"]


def test_a_pack_ranks_by_its_children(ix: SkillIndex) -> None:
    ids = [r["id"] for r in route_request(ix, {"query": "slugs and aphids on my lettuce", "limit": 3})["results"]]
    assert ids[0] == "garden/using-garden/pest-control.md"
    assert "garden/using-garden" in ids  # the pack router comes along, below its sheet


@pytest.mark.parametrize("query", ["xylophone quantum zebra", "what is the capital of France",
                                   "recommend a romantic comedy for tonight"])
def test_nonsense_is_not_confident(ix: SkillIndex, query: str) -> None:
    assert route_request(ix, {"query": query})["confident"] is False


def test_answers_follow_an_edited_description(ix: SkillIndex, tree: Path) -> None:
    query = "set up a worm farm for kitchen waste"
    path = str(tree / "plugins/garden/skills/composting/SKILL.md")
    before = route_request(ix, {"query": "earthworm vermicompost bin"})
    assert all(r["id"] != "garden/composting" for r in before["results"][:1]) or not before["confident"]
    text = Path(path).read_text(encoding="utf-8").replace(
        "fixing a heap that smells or stays cold.", "fixing a heap that smells or stays cold, and earthworm vermicompost bins.")
    ix.update(os.path.realpath(path), text)
    after = route_request(ix, {"query": "earthworm vermicompost bin"})
    assert after["results"][0]["id"] == "garden/composting"
    assert after["confident"] is True
    assert top(ix, query)["id"] == "garden/composting"


def test_a_new_sheet_is_routable_and_a_removed_one_is_gone(ix: SkillIndex, tree: Path) -> None:
    sheet = os.path.realpath(tree / "plugins/garden/skills/using-garden/watering.md")
    ix.update(sheet, "---\nname: watering\ndescription: Use when deciding how often to water tomatoes in a heatwave "
                     "and whether drip irrigation is worth it.\n---\n\n# Watering\n")
    assert top(ix, "drip irrigation for tomatoes in a heatwave")["id"] == "garden/using-garden/watering.md"
    ix.remove(sheet)
    ids = [r["id"] for r in route_request(ix, {"query": "drip irrigation for tomatoes"})["results"]]
    assert "garden/using-garden/watering.md" not in ids


def test_table_edit_changes_the_exact_route(ix: SkillIndex, tree: Path) -> None:
    router = os.path.realpath(tree / "plugins/garden/skills/using-garden/SKILL.md")
    text = Path(router).read_text(encoding="utf-8")
    ix.update(router, text.replace("| Kitchen scraps pile up and smell | composting |",
                                   "| Kitchen scraps pile up and smell | composting |\n| Moles dig up the lawn | pest-control.md |"))
    hit = top(ix, "Moles dig up the lawn")
    assert hit["id"] == "garden/using-garden/pest-control.md" and "routing phrase" in hit["why"]


def test_root_limits_the_answer(tmp_path: Path, tree: Path) -> None:
    other = tmp_path / "other"
    (other / "skills/knots").mkdir(parents=True)
    (other / "skills/knots/SKILL.md").write_text(
        "---\nname: knots\ndescription: Use when tying a bowline or a clove hitch on a boat.\n---\n# Knots\n")
    ix = SkillIndex.from_roots([str(tree), str(other)])
    assert top(ix, "tie a bowline knot")["id"] == "knots"
    scoped = route_request(ix, {"query": "tie a bowline knot", "root": str(tree)})
    assert all(r["id"] != "knots" for r in scoped["results"])
    assert {i["id"] for i in list_request(ix, {"root": str(other)})["items"]} == {"knots"}


def test_list_and_resolve(ix: SkillIndex, tree: Path) -> None:
    items = list_request(ix, {})["items"]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids)
    assert {"using-workshop", "garden/pruning", "bikes/using-bikes/brake-bleeding.md"} <= set(ids)
    assert all(set(i) == {"id", "name", "kind", "uri", "description"} for i in items)
    skill = resolve_request(ix, {"id": "garden/using-garden"})
    assert skill["kind"] == "skill" and skill["text"].startswith("---\nname: using-garden")
    assert [s["id"] for s in skill["sheets"]] == ["garden/using-garden/pest-control.md",
                                                   "garden/using-garden/soil-testing.md"]
    assert resolve_request(ix, {"name": "chain-care"})["id"] == "bikes/chain-care"
    assert resolve_request(ix, {"name": "bikes:chain-care"})["id"] == "bikes/chain-care"
    sheet = resolve_request(ix, {"id": "bikes/using-bikes/brake-bleeding.md"})
    assert sheet["kind"] == "sheet" and sheet["sheets"] == []


def test_resolve_answers_from_the_index_not_the_disk(ix: SkillIndex, tree: Path) -> None:
    path = os.path.realpath(tree / "plugins/bikes/skills/chain-care/SKILL.md")
    buffer = Path(path).read_text(encoding="utf-8") + "\nUnsaved note in the editor.\n"
    ix.update(path, buffer)
    assert resolve_request(ix, {"id": "bikes/chain-care"})["text"] == buffer


@pytest.mark.parametrize("params", [
    {"id": "../../../etc/passwd"}, {"id": "/etc/passwd"}, {"id": "garden/../../x"}, {"id": "nope/nothing"},
    {"name": "passwd"}, {}, {"id": 3},
])
def test_resolve_rejects_ids_outside_the_index(ix: SkillIndex, params: dict) -> None:
    with pytest.raises(ValueError):
        resolve_request(ix, params)


@pytest.mark.parametrize("params", [
    {}, {"query": ""}, {"query": 5}, {"query": "x", "limit": 0}, {"query": "x", "limit": "3"},
    {"query": "x", "root": "/etc"}, {"query": "x", "root": "/"},
])
def test_route_rejects_bad_parameters(ix: SkillIndex, params: dict) -> None:
    with pytest.raises(ValueError):
        route_request(ix, params)


def test_list_rejects_a_root_outside(ix: SkillIndex) -> None:
    with pytest.raises(ValueError):
        list_request(ix, {"root": "/tmp"})
    with pytest.raises(ValueError):
        list_request(ix, [])  # type: ignore[arg-type]


def test_a_bold_label_above_an_arrow_line_is_its_routing_phrase(tmp_path: Path) -> None:
    """"**Label:**" with "→ Read `sheet.md` — ..." under it: the label is what the author routes."""
    skill = tmp_path / "skills" / "kiln"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: kiln\ndescription: Use when firing pottery in a kiln.\n---\n# Kiln\n\n"
        "**Glaze runs off the pot and sticks to the shelf (\"why did it drip\"):**\n"
        "→ Read `glaze-faults.md` — thinner coats, a wider foot\n\n"
        "**Pots crack on cooling:**\n→ Read `cooling.md`\n", encoding="utf-8")
    (skill / "glaze-faults.md").write_text("# Glaze faults\n\nCrawling, pinholes and crazing.\n", encoding="utf-8")
    (skill / "cooling.md").write_text("# Cooling\n\nSlow the kiln down through quartz inversion.\n",
                                      encoding="utf-8")
    ix = SkillIndex.from_roots([str(tmp_path)])
    hit = top(ix, 'Glaze runs off the pot and sticks to the shelf ("why did it drip")')
    assert hit["id"] == "kiln/glaze-faults.md"
    assert "routing phrase" in hit["why"]


def _decoys(root: Path, n: int) -> Path:
    """A second tree of look-alike skills: garden and bike words in every description."""
    for i in range(n):
        d = root / "skills" / f"decoy-{i}"
        d.mkdir(parents=True)
        (d / "SKILL.md").write_text(
            f"---\nname: decoy-{i}\ndescription: Use when a garden tree or bike chain question comes up, "
            f"case {i}.\n---\n# Decoy {i}\n\nGarden, tree, soil, bike, chain, wheel: notes of case {i}.\n",
            encoding="utf-8")
    return root


@pytest.mark.parametrize("query", [
    "when should I cut back my plum tree",
    "is my soil too acid for vegetables",
    "how do I measure how worn my bike chain is",
])
def test_a_second_tree_of_look_alikes_leaves_the_first_trees_ranking_alone(
        tmp_path: Path, tree: Path, query: str) -> None:
    # Statistics are per tree: the look-alikes' words must not reweigh the first tree's documents.
    decoys = _decoys(tmp_path / "decoys", 60)
    alone = SkillIndex.from_roots([str(tree)])
    both = SkillIndex.from_roots([str(tree), str(decoys)])
    ours = route_request(alone, {"query": query, "limit": 10})["results"]
    mixed = route_request(both, {"query": query, "limit": 30})["results"]
    mine = [r for r in mixed if not r["id"].startswith("decoy-")]
    assert [r["id"] for r in mine][:len(ours)] == [r["id"] for r in ours][:len(mine)]
    assert mixed[0]["id"] == ours[0]["id"], "the look-alikes match the query's common words only"
