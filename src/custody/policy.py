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
from datetime import datetime
from pathlib import Path

from cryptography import x509

from custody.base.keys import PublicKeyInfo, trusted_keys
from custody.register.format import KeyRegister, compare_registers
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


def load_trust_policy(
    *,
    home: Path,
    extra_keys: Iterable[PublicKeyInfo] = (),
    extra_fingerprints: Collection[str] = (),
    use_trust_store: bool = True,
    tsa_root_files: Iterable[Path] = (),
    require_timestamp: bool = False,
    require_closed_chain: bool = False,
    extra_registers: Iterable[KeyRegister] = (),
    now: datetime | None = None,
    extra_witness_keys: Iterable[WitnessKey] = (),
    quorum: int = 0,
    extra_team_keys: Iterable[PublicKeyInfo] = (),
) -> TrustPolicy:
    """The policy of the user at `home` plus what the command line added.
    Raises InputError for a --tsa-root file that is not a certificate, or when
    the quorum cannot be met by the chosen witnesses.

    A register given for this verification (--register) that is also stored
    must extend the stored one: a rollback or a fork raises InputError."""
    from datetime import UTC

    from custody.base.errors import InputError
    from custody.register.store import trusted_registers
    from custody.team.config import pinned_team_key  # no database client: a file read
    from custody.tsa.roots import load_root_file, trusted_tsa_roots
    from custody.witness.trust import trusted_witnesses

    keys = list(extra_keys)
    roots: list[x509.Certificate] = [c for f in tsa_root_files for c in load_root_file(f)]
    stored = {r.register_id: r for r in trusted_registers(home=home, now=now or datetime.now(UTC))}
    registers: dict[str, KeyRegister] = {}
    witnesses = list(extra_witness_keys)
    team_keys = list(extra_team_keys)
    if use_trust_store:
        keys.extend(trusted_keys(home=home))
        roots.extend(trusted_tsa_roots(home=home))
        witnesses.extend(trusted_witnesses(home=home))
        pinned = pinned_team_key(home)
        if pinned is not None:
            team_keys.append(pinned)
        registers = dict(stored)
    for register in extra_registers:
        known = stored.get(register.register_id)
        if known is not None:
            compare_registers(known, register)  # even with --no-trust-store: no rollback
        registers[register.register_id] = register
    unique = tuple({(w.name, w.key_id): w for w in witnesses}.values())
    # A quorum counts keys, not names: one key trusted under two names (a
    # renamed witness whose old key file was kept) is one witness.
    distinct = len({w.public_key.public_bytes_raw() for w in unique})
    if quorum < 0:
        raise InputError("--quorum must be 0 or more")
    if quorum > distinct:
        raise InputError(
            f"--quorum {quorum} needs at least {quorum} chosen witnesses; "
            f"{distinct} chosen ('custody witness trust WITNESS.pub' or --witness-key; "
            "one key under two names is one witness)"
        )
    return TrustPolicy(
        keys=tuple(keys),
        fingerprints=frozenset(extra_fingerprints),
        tsa_roots=tuple(roots),
        require_timestamp=require_timestamp,
        require_closed_chain=require_closed_chain,
        registers=tuple(registers.values()),
        witness_keys=unique,
        quorum=quorum,
        team_keys=tuple(team_keys),
    )
