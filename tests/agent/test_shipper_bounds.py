"""The shipper refuses seqs from the collector beyond the contract instead of renumbering or acking by them."""

from __future__ import annotations

import pytest

from agent.shipper import CollectorFault, _bounded_seq
from mamori.events import MAX_SEQ


def test_seqs_up_to_the_bound_pass():
    assert _bounded_seq(0, "last_stored_seq") == 0
    assert _bounded_seq(MAX_SEQ, "acked_seq") == MAX_SEQ


@pytest.mark.parametrize("value", [MAX_SEQ + 1, 2**63 - 1, 2**64 - 1])
def test_a_seq_beyond_the_bound_ends_the_stream_in_words(value):
    with pytest.raises(CollectorFault, match=f"acked_seq {value}, beyond the highest seq"):
        _bounded_seq(value, "acked_seq")
