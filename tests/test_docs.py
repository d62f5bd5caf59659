"""The user guide stays true to the code: the generated config reference is up to date, every
relative link resolves, and the reference pages name every format, command, option and setting.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]

# Pages (and images) that other people are still writing. A link to one of these passes while
# the file does not exist yet; once it exists, the link is checked like any other (anchors too).
# Empty this list when they have landed.
# Pages a link may point at before they are written; empty while every page exists.
PENDING: set[str] = set()

_FENCE = re.compile(r"^([ \t]*)(```|~~~).*?^\1\2[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*)?\)")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _load_generator():
    path = REPO / "scripts" / "gen_config_reference.py"
    spec = importlib.util.spec_from_file_location("gen_config_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prose(markdown: str) -> str:
    """The text outside code blocks and code spans, where links live."""
    return _CODE_SPAN.sub("", _FENCE.sub("", markdown))


def _links(markdown: str) -> list[str]:
    text = _prose(markdown)
    return _INLINE_LINK.findall(text) + _REF_LINK.findall(text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # [text](url) -> text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _broken_links(page: Path) -> list[str]:
    broken = []
    for link in _links(page.read_text(encoding="utf-8")):
        if _SCHEME.match(link):
            continue  # http(s), mailto: not checked here
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        try:
            inside = target.relative_to(REPO).as_posix()
        except ValueError:
            continue  # outside the repo (../shared): not ours to check
        if not target.exists():
            if inside not in PENDING:
                broken.append(f"{link}: {inside} does not exist")
            continue
        if anchor and target.suffix == ".md" and anchor not in _anchors(target):
            broken.append(f"{link}: no heading in {inside} has the anchor #{anchor}")
    return broken


# --- the generated configuration reference ------------------------------------------------------


def test_config_reference_is_up_to_date():
    gen = _load_generator()
    page = gen.DOC.read_text(encoding="utf-8")

    assert gen.replace_generated(page, gen.render_reference()) == page, (
        "docs/configuration.md is out of date with RunConfig or the presets: run "
        ".venv/bin/python scripts/gen_config_reference.py"
    )


def test_config_reference_covers_every_field_and_preset():
    from loralab.config import PRESETS, RunConfig

    text = _load_generator().render_reference()
    for section, field in RunConfig.model_fields.items():
        sub = getattr(field.annotation, "model_fields", None)
        if sub is None and section != "train":
            assert f"`{section}`" in text
        for name in sub or {}:
            assert f"`{section}.{name}`" in text
    assert "`train.learning_rate`" in text and "`train.method`" in text
    assert all(f"**{m}/{n}**" in text for m, names in PRESETS.items() for n in names)


def test_generated_part_is_only_between_the_markers():
    gen = _load_generator()
    page = f"intro\n{gen.BEGIN}\nold\n{gen.END}\noutro\n"

    assert gen.replace_generated(page, "new") == f"intro\n{gen.BEGIN}\nnew\n{gen.END}\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        gen.replace_generated("no markers here", "new")


# --- links -----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve(page):
    assert not _broken_links(page), "\n".join(_broken_links(page))


def test_link_checker_sees_links_and_skips_code(tmp_path):
    md = (
        "[a](x.md) ![img](img/y.png) [b](https://example.com) [c](#here)\n"
        "`[not](a-link.md)`\n\n```\n[nor](this.md)\n```\n[ref]: z.md\n"
    )

    assert _links(md) == ["x.md", "img/y.png", "https://example.com", "#here", "z.md"]
    assert _slug("`loralab models estimate`") == "loralab-models-estimate"
    assert _slug("From zero to X in five minutes (CPU is fine)") == (
        "from-zero-to-x-in-five-minutes-cpu-is-fine"
    )


def test_link_checker_reports_missing_files_and_anchors(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PENDING", {"docs/model.md"})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Title\n\n## `loralab x`\n")
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "[ok](b.md#loralab-x) [gone](c.md) [anchor](b.md#nope) [pending](model.md) "
        "[outside](../../elsewhere.md) [self](#title-here)\n\n## Title here\n"
    )

    assert _broken_links(page) == [
        "c.md: docs/c.md does not exist",
        "b.md#nope: no heading in docs/b.md has the anchor #nope",
    ]


# --- the reference pages name everything there is ------------------------------------------------


def test_data_page_has_a_section_per_format():
    from loralab.config import DATA_FORMATS

    text = (DOCS / "data.md").read_text(encoding="utf-8")
    missing = [f for f in DATA_FORMATS if f != "auto" and f"### `{f}`" not in text]
    assert not missing, f"docs/data.md has no section for: {', '.join(missing)}"


def _cli_commands():
    import typer.main

    from loralab.cli.app import _register, app

    if not app.registered_groups:  # main() registers the groups; do it once, as main() would
        _register()
    stack = [("loralab", typer.main.get_command(app))]
    while stack:
        name, command = stack.pop()
        children = getattr(command, "commands", None)
        if children:
            stack += [(f"{name} {n}", c) for n, c in children.items()]
        else:
            yield name, command


def test_cli_page_documents_every_command_and_option():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `(loralab [^`]+)`\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    problems = []
    for name, command in sorted(_cli_commands()):
        if name not in sections:
            problems.append(f"no section `## \\`{name}\\``")
            continue
        for param in command.params:
            if param.param_type_name == "argument":
                names = [param.name.upper()]
            else:
                names = [o for o in [*param.opts, *param.secondary_opts] if o != "--help"]
            problems += [f"{name}: {n} not documented" for n in names if n not in sections[name]]
    assert not problems, "\n".join(problems)


def test_cli_page_lists_every_server_setting():
    from loralab.config import Settings

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [f"LORALAB_{n.upper()}" for n in Settings.model_fields]
    missing = [v for v in missing if v not in text]
    assert not missing, f"docs/cli.md does not list: {', '.join(missing)}"
