"""What a durable sharded phase checkpoints stays small whatever the suite's size."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from testgenie.coordinator.shards import pack_ids, unpack_ids
from testgenie.shards.assign import junit_id


@given(st.lists(st.text(max_size=40), max_size=50))
def test_packed_ids_come_back_unchanged(ids: list[str]) -> None:
    assert unpack_ids(pack_ids(ids)) == ids


def test_five_thousand_ids_fit_a_step_many_times_over() -> None:
    ids = [
        f"tests/unit/test_module_{i // 50:03}.py::TestThing::test_case_{i}[p-{i % 7}]" for i in range(5000)
    ]
    assert len(json.dumps(ids)) > 256 * 1024  # too large for one step as they are
    assert len(pack_ids(ids)) < 64 * 1024


def test_junit_ids_are_pytests_names_of_node_ids() -> None:
    assert junit_id("tests/test_a.py::test_x") == "tests.test_a::test_x"
    assert junit_id("tests/test_a.py::TestB::test_y[1-a/b::c]") == "tests.test_a.TestB::test_y[1-a/b::c]"
    assert junit_id("test_top.py::test_z") == "test_top::test_z"
