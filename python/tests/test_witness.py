"""Witness replicas on the host (docs/witness.md): a voter that receives no
payloads, keeps no state machine and never leads."""

from __future__ import annotations

import pytest

from polyraft import ConfChangeType, ConfState, Host, InProcNetwork, ProposalRejectedError

from test_host import KV, TICK, eventually, retry


def test_conf_change_type_and_conf_state_carry_witnesses() -> None:
    assert int(ConfChangeType.ConfChangeAddWitnessNode) == 4
    cs = ConfState(voters=[1, 2, 3], witnesses=[3])
    assert cs.witnesses == [3]
    assert ConfState(voters=[1, 2]).witnesses == []


def test_witness_joins_counts_in_the_quorum_and_refuses_client_calls() -> None:
    net = InProcNetwork()
    hosts = [Host(h, network=net, tick_interval=TICK, workers=1) for h in (1, 2, 3)]
    try:
        sms = {h.id: KV() for h in hosts[:2]}
        for h in hosts[:2]:
            h.start_replica(7, h.id, sms[h.id], members={1: 1, 2: 2})
        for i in range(5):
            retry(lambda: hosts[0].propose(7, f"k{i}={i}".encode()))
        hosts[2].start_witness(7, 3)
        retry(lambda: hosts[0].add_witness(7, 3, 3))
        eventually(lambda: (i := hosts[2].group_info(7)) is not None and i.witnesses == [3] and i.applied >= 6)
        info = hosts[2].group_info(7)
        assert info is not None and info.is_witness and info.voters == [1, 2, 3] and not info.is_leader
        # No state machine on the witness: client calls are refused there.
        with pytest.raises(ProposalRejectedError, match="witness"):
            hosts[2].propose(7, b"x=1")
        with pytest.raises(ProposalRejectedError, match="witness"):
            hosts[2].stale_read(7, b"k1")
        # A data replica cannot become a witness.
        with pytest.raises(ProposalRejectedError):
            hosts[0].add_witness(7, 2, 2)
        # With the leader's peer down, the witness completes the quorum.
        leader = next(h for h in hosts[:2] if (g := h.group_info(7)) is not None and g.is_leader)
        other = hosts[1] if leader is hosts[0] else hosts[0]
        other.close()
        assert retry(lambda: leader.propose(7, b"during=down")) == b""
        assert leader.read(7, b"during") == b"down"
        assert not hosts[2].group_info(7).is_leader  # type: ignore[union-attr]
    finally:
        for h in hosts:
            h.close()
