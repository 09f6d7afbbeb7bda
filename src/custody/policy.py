"""The verifier's choices, as one value.

Everything a verifier decides to trust (officer keys and fingerprints today;
TSA roots, key registers, witnesses and quorums as they are added) lives in
one frozen TrustPolicy. It is built in one place, `ops.trust.load_trust_policy`,
from `$CUSTODY_HOME` and the command's TrustOptions, and passed whole to
evaluation: nothing shipped inside a bundle ever becomes part of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509

from custody.base.keys import PublicKeyInfo
from custody.register.format import KeyRegister
from custody.tlog.cosignature import WitnessKey


@dataclass(frozen=True)
class TrustPolicy:
    """What this verifier trusts. Add a field here for each new kind of choice;
    never thread another keyword argument through the layers."""

    keys: tuple[PublicKeyInfo, ...] = ()
    """Officer public keys the verifier chose (trust store and --trust files)."""
    fingerprints: frozenset[str] = frozenset()
    """Full fingerprints given with --trust: the bundle's own copy of the signer's
    key is acceptable only when its fingerprint is one of these."""
    registers: tuple[KeyRegister, ...] = ()
    """Unit key registers the verifier chose (keys trust-register, --register):
    a key one of them lists is judged by the register's rule (register/rule.py)."""
    witness_keys: tuple[WitnessKey, ...] = ()
    """Witnesses the verifier chose ($CUSTODY_HOME/witnesses/ and --witness-key):
    only their cosignatures are checked and counted."""
    quorum: int = 0
    """How many valid cosignatures from distinct chosen witnesses a ledger
    proof or checkpoint must carry (--quorum); 0: shown and checked, not required."""
    team_keys: tuple[PublicKeyInfo, ...] = ()
    """Team-log keys whose checkpoints make a bundle's team proof count: the
    team this home joined (its pinned key) and --team-key files."""

    tsa_roots: tuple[x509.Certificate, ...] = ()
    """TSA root certificates the verifier chose ($CUSTODY_HOME/tsa-roots and
    --tsa-root). A timestamp proves its time only when it chains to one."""
    require_timestamp: bool = False
    """--require-timestamp: a bundle whose signing time is not proven is not verified."""
    require_closed_chain: bool = False
    """--require-closed-chain: a bundle whose last hand-over awaits its receipt is
    not verified (by default it verifies, with the hand-over shown as open)."""

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
