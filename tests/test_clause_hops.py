"""Every clause id is one grep from its YAML and at most two from its test (tools/clause_hops.py --all): the id is
written out in spec/*.yaml, and its clause module writes it out or names its family glob and test function in
the docstring ("Clause ids run here ...")."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("grep") is None, reason="the tool runs grep")


def _tool():
    spec = importlib.util.spec_from_file_location("clause_hops", ROOT / "tools" / "clause_hops.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_clause_id_reaches_its_yaml_and_its_test_in_two_greps(capsys):
    assert _tool().main(["--all"]) == 0, capsys.readouterr().out[-3000:]


def test_family_globs_pick_the_most_specific():
    tool = _tool()
    families = [("heads.*.outputs.*", "m", ("test_output",)), ("heads.*.outputs.order", "m", ("test_order",)),
                ("golden.*", "g", ("test_golden",)), ("golden.*.gradients", "g", ("test_golden_gradients",))]
    assert tool.family_of("heads.BertModel.outputs.order", families) == "heads.*.outputs.order"
    assert tool.family_of("heads.BertModel.outputs.logits", families) == "heads.*.outputs.*"
    assert tool.family_of("golden.model.tiny.gradients", families) == "golden.*.gradients"
    assert tool.family_of("config.default.vocab_size", families) is None
