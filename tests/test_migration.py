"""The migration report: a TF1 program against its TF2 rewrite. Each wrong rewrite plants one known
difference (a learning rate, a dropout left out, other initial values, one variable more, Keras'
own dropout masks), and the report must find exactly it; the right rewrites must agree, in every
mode of the candidate, through the plugin."""

import importlib.util
import json
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from dualtf import MigrationError
from dualtf.cli import main
from dualtf.testing import MigrationReport, migration_report

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("migration_pairs", HERE / "migration_pairs.py")
pairs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pairs)
PAIRS = str(HERE / "migration_pairs.py")


def _check(report: MigrationReport):
    assert len(report.checks) == 1
    return report.checks[0]


def test_the_rewrite_of_the_linear_regression_agrees(dualtf_mode):
    report = migration_report(pairs.tf1_linear, pairs.tf2_linear, pairs.LINEAR_FEEDS, steps=3, modes=[dualtf_mode])
    check = _check(report)
    assert report.ok and check.ok, report.table()
    assert [(m.reference, m.how) for m in check.variables.matched] == [("W", "order"), ("b", "order")]
    assert [m.candidate.rsplit("/", 1)[-1] for m in check.variables.matched] == ["kernel", "bias"]
    assert check.variables.reference_only == check.variables.candidate_only == ()
    assert all(gap is None for row in check.rows for gap in row.gaps.values())
    assert [row.what.split(" /")[0] for row in check.rows] == ["variable W", "variable b", "output"]
    assert check.divergence is None
    assert "the candidate agrees with the reference" in report.table()


def test_a_learning_rate_slip_is_found_on_the_first_call_at_the_optimizer_line(dualtf_mode):
    report = migration_report(pairs.tf1_linear, pairs.tf2_linear_slow, pairs.LINEAR_FEEDS, steps=3, modes=[dualtf_mode])
    check = _check(report)
    assert not report.ok
    found = check.divergence
    assert found is not None and found.call == 1
    assert found.outputs == ()  # call 1's cost is computed before the update: it agrees
    assert [g.what.split(" /")[0] for g in found.variables] == ["variable W", "variable b"]
    by_row = {row.what.split(" /")[0]: row.gaps for row in check.rows}
    assert by_row["output"]["call 1"] is None and by_row["output"]["call 3"] is not None
    assert by_row["variable W"]["initial"] is None and by_row["variable W"]["call 1"] is not None
    if dualtf_mode != "eager":  # the candidate's learning rate (0.01), which the reference never computed
        assert found.other_first_op is not None
        assert "optimizer.apply_gradients" in found.other_first_op.line
    assert "first differ on call 1" in report.table()
    assert json.loads(report.to_json())["modes"][dualtf_mode]["divergence"]["call"] == 1


def test_the_dropout_network_rewrite_agrees_under_deterministic_random(dualtf_mode):
    report = migration_report(
        pairs.tf1_dropout_mlp, pairs.tf2_dropout_mlp, pairs.MLP_FEEDS, steps=4, modes=[dualtf_mode]
    )
    check = _check(report)
    assert report.ok, report.table()
    assert [(m.reference, m.candidate, m.how) for m in check.variables.matched] == [
        (name, name, "name") for name in ("W1", "b1", "W2", "b2")
    ]


def test_dropout_without_the_switch_is_found_at_both_dropout_lines():
    report = migration_report(
        pairs.tf1_dropout_mlp,
        pairs.tf2_dropout_mlp,
        pairs.MLP_FEEDS,
        modes=["function"],
        deterministic_random=False,
    )
    found = _check(report).divergence
    assert found is not None and found.call == 1
    assert found.first_op.op_type == "RandomUniform"
    assert "tf.compat.v1.nn.dropout(h, rate=0.2)" in found.first_op.line
    assert found.other_first_op.op_type == "RandomUniform"
    assert "tf.nn.dropout(h, rate=0.2)" in found.other_first_op.line


def test_a_dropout_left_out_is_found_at_the_reference_dropout_line():
    report = migration_report(pairs.tf1_dropout_mlp, pairs.tf2_mlp_without_dropout, pairs.MLP_FEEDS, modes=["graph"])
    found = _check(report).divergence
    assert found is not None and found.call == 1
    assert "tf.compat.v1.nn.dropout" in found.first_op.line  # its mask, or the masked values


def test_keras_dropout_layer_draws_other_masks_and_the_report_says_where():
    report = migration_report(
        pairs.tf1_dropout_mlp, pairs.keras_dropout_mlp, pairs.MLP_FEEDS, modes=["function"], copy_initial=True
    )
    check = _check(report)
    assert not report.ok
    assert check.copied and all(row.gaps.get("initial") is not None for row in check.rows if "W" in row.what)
    found = check.divergence
    assert found.call == 1
    assert "tf.compat.v1.nn.dropout" in found.first_op.line
    assert "not trainable, not paired by name, not compared" in report.table()  # Keras' seed generator state


def test_other_initial_values_differ_unless_copied():
    differ = migration_report(pairs.tf1_linear, pairs.tf2_linear_ones, pairs.LINEAR_FEEDS, modes=["function"])
    initial = {row.what.split(" /")[0]: row.gaps.get("initial") for row in _check(differ).rows}
    assert not differ.ok
    assert initial["variable W"] == (1.0, pytest.approx(np.inf)) and initial["variable b"] is None
    copied = migration_report(
        pairs.tf1_linear, pairs.tf2_linear_ones, pairs.LINEAR_FEEDS, modes=["function"], copy_initial=True
    )
    assert copied.ok, copied.table()
    assert "initial (copied)" in copied.table()


def test_a_variable_the_reference_lacks_is_listed_and_fails():
    report = migration_report(pairs.tf1_linear, pairs.tf2_linear_extra, pairs.LINEAR_FEEDS, modes=["eager"])
    variables = _check(report).variables
    assert variables.candidate_only == ("extra",)
    assert variables.reference_count == (2, 2) and variables.candidate_count[1] == 3
    assert not report.ok
    assert "candidate only" in report.table()


def test_a_variable_map_pairs_renamed_variables():
    report = migration_report(
        pairs.tf1_linear,
        pairs.tf2_linear_renamed,
        pairs.LINEAR_FEEDS,
        modes=["graph"],
        variable_map={"b": "bias", "W": "kernel"},
    )
    assert report.ok, report.table()
    assert [(m.reference, m.candidate, m.how) for m in _check(report).variables.matched] == [
        ("W", "kernel", "map"),
        ("b", "bias", "map"),
    ]


@pytest.mark.parametrize(
    ("variable_map", "message"),
    [
        ({"V": "kernel"}, "Each reference name in `variable_map` must be the name of a variable of the reference"),
        ({"W": "nope"}, "Received: nope"),
        ({"W": "bias"}, "Variables `W` and `bias` paired by `variable_map` must be of one shape"),
    ],
)
def test_a_bad_variable_map_is_refused_by_name(variable_map, message):
    with pytest.raises(MigrationError, match=message.replace("`", ".").replace("(", ".")):
        migration_report(
            pairs.tf1_linear, pairs.tf2_linear_renamed, pairs.LINEAR_FEEDS, modes=["eager"], variable_map=variable_map
        )


def test_migrate_check_on_the_command_line(tmp_path, capsys):
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **pairs.LINEAR_FEEDS)
    out = tmp_path / "report.json"
    common = ["--feeds", str(feeds), "--modes", "function", "--steps", "2", "--json", str(out)]
    assert main(["migrate-check", f"{PAIRS}:tf1_linear", f"{PAIRS}:tf2_linear", *common]) == 0
    assert "the candidate agrees with the reference" in capsys.readouterr().out
    assert json.loads(out.read_text())["ok"] is True
    assert main(["migrate-check", f"{PAIRS}:tf1_linear", f"{PAIRS}:tf2_linear_slow", *common]) == 1
    assert "the candidate DIFFERS from the reference" in capsys.readouterr().out
    assert json.loads(out.read_text())["modes"]["function"]["divergence"]["call"] == 1
    renamed = ["migrate-check", f"{PAIRS}:tf1_linear", f"{PAIRS}:tf2_linear_renamed", *common]
    assert main([*renamed, "--map", "W=kernel", "--map", "b=bias"]) == 0
    capsys.readouterr()
    assert main([*renamed, "--map", "W=nope"]) == 2
    assert "Each candidate name in `variable_map`" in capsys.readouterr().err


_NAMES = st.sampled_from(["W", "b", "kernel", "bias", "dense/kernel", "dense_1/kernel", "opt/m"])
_VARIABLES = st.lists(
    st.tuples(_NAMES, st.sampled_from([(), (2,), (3, 1)]), st.sampled_from(["float32", "int64"]), st.booleans()),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(reference=_VARIABLES, candidate=_VARIABLES)
def test_pairing_is_one_to_one_and_never_pairs_unlike_variables(reference, candidate):
    """Whatever the names, shapes, dtypes and trainability: each variable is paired at most once, only
    with one of its shape and dtype, and a trainable variable is left unpaired only when the other
    program has no free trainable variable of its kind."""
    from dualtf._migration import match_variables

    def named(spec):
        return [(name, np.zeros(shape, dtype)) for name, shape, dtype, _ in spec]

    ref, cand = named(reference), named(candidate)
    found = match_variables(ref, [t for *_, t in reference], cand, [t for *_, t in candidate])
    ref_used = [m.reference_index for m in found.matched]
    cand_used = [m.candidate_index for m in found.matched]
    assert len(set(ref_used)) == len(ref_used) and len(set(cand_used)) == len(cand_used)
    for m in found.matched:
        assert ref[m.reference_index][1].shape == cand[m.candidate_index][1].shape
        assert ref[m.reference_index][1].dtype == cand[m.candidate_index][1].dtype
    free_cand = [j for j in range(len(cand)) if j not in cand_used and candidate[j][3]]
    for i, (_, shape, dtype, trainable) in enumerate(reference):
        if i in ref_used or not trainable:
            continue
        assert not any(candidate[j][1] == shape and candidate[j][2] == dtype for j in free_cand)
    assert len(found.reference_only) == sum(1 for i, r in enumerate(reference) if r[3] and i not in ref_used)
