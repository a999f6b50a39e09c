"""The documentation's Python examples run as written and print what their comments say.

Every ```python block of README.md and docs/*.md is run in a fresh folder that holds what
the examples read (a small trained run at runs/gb, a colour micrograph tint_etched.png).
A ``print(...)`` line whose comment starts with values (``# 0.983, 0.833``, ``# 3 4``,
``# True: ...``) must print those values, numbers to the decimals the comment gives.
"""

import contextlib
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?|True|False")


def _blocks():
    for f in DOCS:
        text = f.read_text()
        for m in re.finditer(r"```python\n(.*?)```", text, re.S):
            line = text[:m.start()].count("\n") + 1
            yield pytest.param(m.group(1), id=f"{f.relative_to(ROOT).as_posix()}:{line}")


def expected_values(code: str) -> list[list[str]]:
    """For each ``print(`` line, the values its comment starts with (empty: unchecked)."""
    out = []
    for line in code.splitlines():
        s = line.strip()
        if not s.startswith("print("):
            continue
        comment = s.split("  # ", 1)[1] if "  # " in s else ""
        vals = []
        for tok in re.split(r"[,\s]+", comment):
            tok = tok.rstrip(":;")
            if not tok:
                continue
            if not _TOKEN.fullmatch(tok):
                break
            vals.append(tok)
        out.append(vals)
    return out


def matches(printed: str, expected: list[str]) -> bool:
    got = [t for t in re.split(r"[,\s()\[\]]+", printed) if t]
    if len(got) < len(expected):
        return False
    for g, e in zip(got, expected, strict=False):
        if e in ("True", "False"):
            if g != e:
                return False
            continue
        decimals = len(e.split(".")[1]) if "." in e and "e" not in e else 0
        try:
            if abs(float(g) - float(e)) > 0.5 * 10.0 ** -decimals + 1e-12:
                return False
        except ValueError:
            return False
    return True


def test_the_checker_reads_comments_and_compares_to_their_decimals():
    code = 'x = 1  # 5\nprint(a, b)  # 0.983, 0.833\nprint(c)\nprint(d)  # True: gold\nprint(e)  # 3 4 regions'
    assert expected_values(code) == [["0.983", "0.833"], [], ["True"], ["3", "4"]]
    assert matches("0.98333 0.8330001", ["0.983", "0.833"])
    assert not matches("0.9840 0.833", ["0.983", "0.833"])
    assert not matches("3", ["3", "4"]) and not matches("False", ["True"])


@pytest.fixture(scope="module")
def doc_assets(tmp_path_factory):
    from synthscope.learning.train import Stage, TrainConfig, train
    from synthscope.recipes import get_recipe

    root = tmp_path_factory.mktemp("doc_assets")
    cfg = TrainConfig(stages=(Stage(64, 2, 1.0),), max_minutes=None, max_steps=3, loader_workers=0,
                      model_kwargs={"width": 8}, classes=("grain", "boundary"))
    train(root / "runs" / "gb", cfg, recipe=get_recipe("grain_boundaries"))
    rgb = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(root / "tint_etched.png")
    return root


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_example_runs_and_prints_what_it_says(code, doc_assets, tmp_path, monkeypatch):
    shutil.copytree(doc_assets, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<doc example>", "exec"), {"__name__": "__doc_example__"})
    printed = buf.getvalue().splitlines()
    expected = expected_values(code)
    assert len(printed) == len(expected), (printed, expected)
    for line, want in zip(printed, expected, strict=True):
        assert matches(line, want), f"printed {line!r}, the comment says {' '.join(want)}"


def _command_lines():
    """Each ``synthscope ...`` line of the docs' shell blocks (continuations joined)."""
    for f in DOCS:
        text = f.read_text()
        for m in re.finditer(r"```(?:bash|sh|console|shell)?\n(.*?)```", text, re.S):
            body = re.sub(r"\\\n\s*", " ", m.group(1))
            for line in body.splitlines():
                s = line.strip()
                if s.startswith("synthscope "):
                    yield pytest.param(s, id=f"{f.relative_to(ROOT).as_posix()}: {s[:60]}")


def test_docs_show_commands():
    assert len(list(_command_lines())) >= 20  # the parser below still finds them


@pytest.mark.parametrize("line", list(_command_lines()))
def test_doc_command_uses_existing_subcommands_and_options(line):
    import shlex

    import typer

    from synthscope.cli.main import app

    words = shlex.split(line, comments=True)[1:]
    cmd, path = typer.main.get_command(app), ["synthscope"]
    while hasattr(cmd, "commands"):  # a group (typer vendors its own click)
        assert words and words[0] in cmd.commands, f"{' '.join(path)}: no subcommand {words[:1]}"
        path.append(words[0])
        cmd, words = cmd.commands[words[0]], words[1:]
    known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    for w in words:
        opt = w.strip("[]").split("=", 1)[0]
        if opt.startswith("--"):
            assert opt in known, f"{' '.join(path)} has no option {opt}; it has {', '.join(sorted(known))}"
