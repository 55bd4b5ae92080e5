"""The shape and signature rules of end-to-end key objects, without a server."""

from __future__ import annotations

import pytest

from protocol.e2e_keys import (
    check_cross_signing_key,
    check_device_keys,
    check_uploaded_keys,
    is_self_signed,
    split_key_name,
    verify_signature,
)
from protocol.errors import BadJson, BadSignature
from protocol.signing import sign_json
from tests.web.key_owners import CrossSigning, KeyedDevice

ALICE = "@alice:test.local"


@pytest.mark.parametrize("name", ["signed_curve25519:AAAAAQ", "curve25519:x"])
def test_key_names_split_into_algorithm_and_id(name: str) -> None:
    algorithm, key_id = split_key_name(name, "one_time_keys")
    assert f"{algorithm}:{key_id}" == name


@pytest.mark.parametrize("name", ["nocolon", ":AAAA", "alg:", "a:b:c", "a:" + "x" * 300, "a:b\x00"])
def test_malformed_key_names_are_bad_json(name: str) -> None:
    with pytest.raises(BadJson):
        split_key_name(name, "one_time_keys")


def test_device_keys_are_well_formed_and_their_self_signature_is_judged_apart() -> None:
    device = KeyedDevice(ALICE, "DEV")
    keys = device.device_keys()
    assert check_device_keys(keys, ALICE, "DEV") == keys
    assert is_self_signed(keys, ALICE, "DEV")
    tampered = {**keys, "algorithms": ["other"]}
    assert check_device_keys(tampered, ALICE, "DEV") == tampered
    assert not is_self_signed(tampered, ALICE, "DEV")
    with pytest.raises(BadJson):
        check_device_keys({**keys, "signatures": {ALICE: {"ed25519:DEV": 5}}}, ALICE, "DEV")
    with pytest.raises(BadJson):
        check_device_keys(keys, "@bob:test.local", "DEV")


def test_uploaded_keys_are_strings_or_objects_holding_a_key() -> None:
    found = check_uploaded_keys({"curve25519:A": "k", "signed_curve25519:B": {"key": "k", "signatures": {}}}, "f")
    assert [(key.algorithm, key.key_id) for key in found] == [("curve25519", "A"), ("signed_curve25519", "B")]
    for bad in ({"a:b": 1}, {"a:b": {"nokey": "x"}}, {"a:b": {"key": "k", "signatures": []}}, ["a:b"]):
        with pytest.raises(BadJson):
            check_uploaded_keys(bad, "f")


def test_cross_signing_keys_are_filed_under_their_public_key() -> None:
    cross = CrossSigning(ALICE)
    master = cross.master_key()
    assert check_cross_signing_key(master, ALICE, "master") == cross.public(cross.master)
    public = cross.public(cross.master)
    for bad in ({**master, "usage": ["user_signing"]}, {**master, "keys": {"ed25519:other": public}},
                {**master, "keys": {f"ed25519:{public}": public, "ed25519:x": "x"}},
                {**master, "keys": {"ed25519:notbase64!": "notbase64!"}}):
        with pytest.raises(BadJson):
            check_cross_signing_key(bad, ALICE, "master")
    subkey = cross.self_signing_key()
    verify_signature(subkey, ALICE, f"ed25519:{public}", public)
    with pytest.raises(BadSignature):
        verify_signature(sign_json(cross._key(cross.self_signing, "self_signing"), ALICE, cross.user_signing),
                         ALICE, f"ed25519:{public}", public)
