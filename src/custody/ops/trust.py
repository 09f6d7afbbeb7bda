"""The one place where the verifier's choices become a TrustPolicy.

A command's trust options arrive as one TrustOptions value (the CLI's
`trust_options` decorator makes it); `load_trust_policy` reads what the user
chose under $CUSTODY_HOME (trusted keys, registers, TSA roots, witnesses, the
team's pinned key), adds what the options add, and returns the one frozen
TrustPolicy that every check reads. A new kind of choice touches TrustOptions,
this loader and the check that reads it; nothing in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from custody.base.errors import InputError
from custody.base.home import custody_home
from custody.base.keys import PublicKeyInfo, key_or_fingerprint, read_public_key_file, trusted_keys
from custody.policy import TrustPolicy
from custody.register.format import KeyRegister, compare_registers
from custody.register.store import read_register_file, trusted_registers
from custody.team.config import pinned_team_key  # no database client: a file read
from custody.tsa.roots import load_root_file, trusted_tsa_roots
from custody.witness.trust import read_witness_key, trusted_witnesses


@dataclass(frozen=True)
class TrustOptions:
    """What a verifier added to, or took from, its stored choices for one run:
    the command line's trust options as one value (all empty: the trust store
    alone)."""

    trust: tuple[str, ...] = ()
    """--trust: public key files, or full fingerprints whose key the bundle carries."""
    registers: tuple[Path, ...] = ()
    """--register: unit key registers for this run only."""
    team_keys: tuple[Path, ...] = ()
    """--team-key: team-log public keys for team proofs."""
    use_trust_store: bool = True
    """False with --no-trust-store: only what the options give is trusted."""
    tsa_roots: tuple[Path, ...] = ()
    """--tsa-root: TSA root certificates (PEM or DER)."""
    require_timestamp: bool = False
    require_closed_chain: bool = False
    witness_keys: tuple[Path, ...] = ()
    """--witness-key: witness public key files."""
    quorum: int = 0
    """--quorum: valid cosignatures required from distinct chosen witnesses."""


def load_trust_policy(
    *,
    home: Path | None = None,
    options: TrustOptions = TrustOptions(),
    now: datetime | None = None,
) -> TrustPolicy:
    """The policy of the user at `home` ($CUSTODY_HOME by default) plus what
    `options` add. Raises InputError for a --trust value that is neither a key
    file nor a full fingerprint, a --tsa-root file that is not a certificate, a
    register or witness key file that cannot be read, a --register that rolls
    back or forks the stored one, or a quorum the chosen witnesses cannot meet."""
    home = home if home is not None else custody_home()
    now = now or datetime.now(UTC)
    keys: list[PublicKeyInfo] = []
    fingerprints: set[str] = set()
    for value in options.trust:
        given = key_or_fingerprint(value, option="--trust")
        if isinstance(given, PublicKeyInfo):
            keys.append(given)
        else:
            fingerprints.add(given)
    extra_registers: list[KeyRegister] = [read_register_file(p, now=now) for p in options.registers]
    witnesses = [read_witness_key(p) for p in options.witness_keys]
    team_keys = [read_public_key_file(p) for p in options.team_keys]
    roots: list[x509.Certificate] = [c for f in options.tsa_roots for c in load_root_file(f)]
    stored = {r.register_id: r for r in trusted_registers(home=home, now=now)}
    registers: dict[str, KeyRegister] = {}
    if options.use_trust_store:
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
    quorum = options.quorum
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
        fingerprints=frozenset(fingerprints),
        tsa_roots=tuple(roots),
        require_timestamp=options.require_timestamp,
        require_closed_chain=options.require_closed_chain,
        registers=tuple(registers.values()),
        witness_keys=unique,
        quorum=quorum,
        team_keys=tuple(team_keys),
    )
