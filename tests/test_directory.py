"""Attribution rules, one test each, and the account tree behind every tenancy decision."""

from __future__ import annotations

import hmac

import pytest

from gateway.config import load
from gateway.demo import DEMO_CONFIG
from gateway.directory import Directory
from gateway.model import Channel
from tests.demo_ids import ACME, ALICE, BETA, BOB, ERIN, GAMMA, RESELLER, ROOT


@pytest.fixture(scope="module")
def d() -> Directory:
    return Directory(load(DEMO_CONFIG))


def _attr(d: Directory, **kw: object) -> Channel:
    ch = Channel(id="x", node="fs1", **kw)  # type: ignore[arg-type]
    d.attribute(ch)
    return ch


def test_tree(d: Directory) -> None:
    assert d.descendants(ROOT) == {RESELLER, ACME, BETA, GAMMA}
    assert d.descendants(RESELLER) == {ACME, BETA}
    assert d.ancestors(ACME) == [RESELLER, ROOT]
    assert d.is_within(ACME, RESELLER) and d.is_within(ACME, ACME)
    assert not d.is_within(RESELLER, ACME) and not d.is_within(BETA, ACME)
    assert d.is_reseller(RESELLER) and not d.is_reseller(ACME)
    assert d.reseller_of(ACME).id == RESELLER


def test_explicit_variables_win(d: Directory) -> None:
    ch = _attr(d, username="201", realm="acme.example.com",
               variables={"callgate_account_id": BETA, "callgate_owner_id": ERIN})
    assert (ch.account_id, ch.owner_id, ch.authorizing_id) == (BETA, ERIN, "")


def test_kazoo_ccvs(d: Directory) -> None:
    ch = _attr(d, variables={"ecallmgr_Account-ID": ACME,
                             "ecallmgr_Authorizing-ID": "d0000000000000000000000000000202"})
    assert (ch.account_id, ch.owner_id) == (ACME, BOB)
    assert (ch.authorizing_id, ch.authorizing_type) == ("d0000000000000000000000000000202",
                                                        "device")


def test_unknown_account_variable_grants_nothing(d: Directory) -> None:
    ch = _attr(d, variables={"callgate_account_id": "f" * 32})
    assert ch.account_id == ""


def test_device_variable_cannot_cross_tenants(d: Directory) -> None:
    # says Beta, but names Acme's device: the device must not drag Acme's owner into Beta
    ch = _attr(d, variables={"callgate_account_id": BETA,
                             "callgate_device_id": "d0000000000000000000000000000201"})
    assert ch.account_id == BETA and ch.owner_id == "" and ch.authorizing_id == ""


def test_sip_username_and_realm(d: Directory) -> None:
    ch = _attr(d, username="201", realm="acme.example.com")
    assert (ch.account_id, ch.owner_id, ch.authorizing_id) == (
        ACME, ALICE, "d0000000000000000000000000000201")
    # the same username in another realm is not Acme's phone
    other = _attr(d, username="201", realm="beta.example.com")
    assert other.account_id == BETA and other.authorizing_id == ""


def test_sip_username_without_realm_only_when_unambiguous(d: Directory) -> None:
    assert _attr(d, username="401").account_id == GAMMA  # Asterisk: PJSIP/401-...
    assert _attr(d, username="999").account_id == ""


def test_dialed_did(d: Directory) -> None:
    ch = _attr(d, destination="37052000001", gateway="carrier1")
    assert (ch.account_id, ch.authorizing_id) == (BETA, "d0000000000000000000000000000301")
    assert _attr(d, destination="+37052000000").account_id == ACME


def test_transferred_did_call_keeps_its_account(d: Directory) -> None:
    # uuid_transfer rewrote the destination to a queue extension; the DID is the initial dest
    ch = _attr(d, destination="5900", gateway="carrier1",
               initial=("caller", "+37060000001", "203.0.113.10", "37052000001", "XML", "public"))
    assert ch.account_id == BETA


def test_dialed_extension_in_realm(d: Directory) -> None:
    ch = _attr(d, realm="acme.example.com", destination="202")
    assert (ch.account_id, ch.owner_id) == (ACME, BOB)


def test_accountcode_last(d: Directory) -> None:
    assert _attr(d, accountcode=GAMMA).account_id == GAMMA
    assert _attr(d, accountcode="5").account_id == GAMMA
    assert _attr(d, accountcode="nobody").account_id == ""


def test_account_by_api_key_compares_every_key(d: Directory,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant time: one compare_digest per configured key, whichever key (or none) matches,
    so the time taken tells nothing about which key is near."""
    keyed = [a for a in d.accounts.values() if a.api_key]
    assert len(keyed) >= 3  # so matches first, in the middle and last are all measured
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)  # the configured key (the expected side)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for account in keyed:
        calls.clear()
        assert d.account_by_api_key(account.api_key) is account
        assert sorted(calls) == sorted(a.api_key.encode() for a in keyed)
    for wrong in ("f" * 64, keyed[0].api_key[:-1], keyed[0].api_key + "0", ""):
        calls.clear()
        assert d.account_by_api_key(wrong) is None
        assert len(calls) == len(keyed)


def test_a_bridged_peer_gives_its_account_first() -> None:
    """5. Inherited, last: the bridged peer's account, then any other leg of the call."""
    from gateway.store import ChannelStore

    directory = Directory(load(DEMO_CONFIG))
    store = ChannelStore(directory.attribute)
    directory.store = store
    store.add(Channel(id="beta", node="fs1", destination="37052000001", call_id="c"))
    store.add(Channel(id="acme", node="fs1", username="201", realm="acme.example.com"))
    leg = store.add(Channel(id="leg", node="fs1", call_id="c", other_leg="acme"))
    assert leg.account_id == ACME and leg.owner_id == "" and leg.authorizing_id == ""
    # anything of its own beats inheritance
    own = store.add(Channel(id="own", node="fs1", call_id="c", other_leg="acme",
                            accountcode=GAMMA))
    assert own.account_id == GAMMA


def test_rules_in_order_first_finding_settles(d: Directory) -> None:
    # a SIP phone wins over the DID it dialed and over an AccountCode
    ch = _attr(d, username="201", realm="acme.example.com", destination="37052000001",
               accountcode=GAMMA)
    assert (ch.account_id, ch.authorizing_id) == (ACME, "d0000000000000000000000000000201")
    # an owner named by a variable survives later rules only within the account they find
    ch = _attr(d, variables={"callgate_owner_id": ERIN}, username="201",
               realm="acme.example.com")
    assert (ch.account_id, ch.owner_id) == (ACME, "")
    ch = _attr(d, variables={"callgate_owner_id": BOB}, username="201",
               realm="acme.example.com")
    assert (ch.account_id, ch.owner_id) == (ACME, BOB)


def test_initial_columns_are_named() -> None:
    ch = Channel(id="x", node="fs1",
                 initial=("caller", "+37060000001", "203.0.113.10", "37052000001", "XML", "p"))
    assert (ch.initial.cid_num, ch.initial.dest, ch.initial.context) == (
        "+37060000001", "37052000001", "p")
    assert Channel(id="y", node="fs1").initial is None
    assert Channel(id="z", node="fs1", initial=()).initial is None  # type: ignore[arg-type]
