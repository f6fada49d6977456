"""Normalised email identities: the same answer every time, remembered or not."""

from __future__ import annotations

import pytest

from helpdesk.customers.identities import InvalidIdentity, normalise, normalise_email


def test_an_address_is_normalised_alike_each_time():
    first = normalise_email("  Jane.Doe@Bücher.Example ")
    assert first == "jane.doe@xn--bcher-kva.example"
    assert normalise_email("Jane.Doe@Bücher.Example") == first  # (remembered)
    assert normalise("email", "JANE.DOE@bücher.example") == first


def test_an_invalid_address_is_refused_every_time_with_its_own_words():
    for value in ("not an address", "not an address", " @example.com"):
        with pytest.raises(InvalidIdentity) as refused:
            normalise_email(value)
        assert repr(value) in str(refused.value)
