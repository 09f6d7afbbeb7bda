"""The verifier's choices, as one value.

Everything a verifier decides to trust (officer keys and fingerprints today;
TSA roots, key registers, witnesses and quorums as they are added) lives in
one frozen TrustPolicy. It is built in one place, `load_trust_policy`, from
`$CUSTODY_HOME` and the command's options, and passed whole to evaluation:
nothing shipped inside a bundle ever becomes part of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from .keys import PublicKeyInfo, trusted_keys
from .ledger.cosignature import WitnessKey


@dataclass(frozen=True)
class TrustPolicy:
    """What this verifier trusts. Add a field here for each new kind of choice;
    never thread another keyword argument through the layers."""

    keys: tuple[PublicKeyInfo, ...] = ()
    """Officer public keys the verifier chose (trust store and --trust files)."""
    fingerprints: frozenset[str] = frozenset()
    """Full fingerprints given with --trust: the bundle's own copy of the signer's
    key is acceptable only when its fingerprint is one of these."""
    witness_keys: tuple[WitnessKey, ...] = ()
    """Witnesses the verifier chose ($CUSTODY_HOME/witnesses/ and --witness-key):
    only their cosignatures are checked and counted."""
    quorum: int = 0
    """How many valid cosignatures from distinct chosen witnesses a ledger
    proof or checkpoint must carry (--quorum); 0: shown and checked, not required."""

    def key_for(self, fingerprint: object) -> PublicKeyInfo | None:
        """The trusted key with this fingerprint, if the verifier chose one."""
        for info in self.keys:
            if info.fingerprint == fingerprint:
                return info
        return None

    def with_keys(self, keys: Iterable[PublicKeyInfo]) -> TrustPolicy:
        """A copy that also trusts `keys`."""
        from dataclasses import replace

        return replace(self, keys=(*self.keys, *keys))


def load_trust_policy(
    *,
    home: Path,
    extra_keys: Iterable[PublicKeyInfo] = (),
    extra_fingerprints: Collection[str] = (),
    use_trust_store: bool = True,
    extra_witness_keys: Iterable[WitnessKey] = (),
    quorum: int = 0,
) -> TrustPolicy:
    """The policy of the user at `home` plus what the command line added.
    Raises InputError when the quorum cannot be met by the chosen witnesses."""
    from .errors import InputError
    from .witness.trust import trusted_witnesses

    keys = list(extra_keys)
    witnesses = list(extra_witness_keys)
    if use_trust_store:
        keys.extend(trusted_keys(home=home))
        witnesses.extend(trusted_witnesses(home=home))
    unique = tuple({(w.name, w.key_id): w for w in witnesses}.values())
    if quorum < 0:
        raise InputError("--quorum must be 0 or more")
    if quorum > len(unique):
        raise InputError(
            f"--quorum {quorum} needs at least {quorum} chosen witnesses; "
            f"{len(unique)} chosen ('custody witness trust WITNESS.pub' or --witness-key)"
        )
    return TrustPolicy(
        keys=tuple(keys),
        fingerprints=frozenset(extra_fingerprints),
        witness_keys=unique,
        quorum=quorum,
    )
