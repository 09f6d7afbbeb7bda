"""Keys, the unit key register and its authority."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from custody.base.keys import format_fingerprint, short_fingerprint
from custody.render._base import Output, _is_terminal, json_form

if TYPE_CHECKING:  # the results it renders; a command imports only its own
    from custody.base.keys import KeyPair, PublicKeyInfo
    from custody.ops.authority import AuthorityResult
    from custody.register.store import TrustRegisterResult


class KeysViews(Output):
    """Keys, the unit key register and its authority."""

    def key_pairs(
        self,
        pairs: Sequence[KeyPair],
        trusted: Sequence[PublicKeyInfo],
        *,
        registers: Sequence[dict[str, Any]] = (),
        listed: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        """Your keys and trusted keys, each with what the trusted registers say
        about it (`listed(fingerprint)`), and the trusted registers themselves."""

        def said(fp: str) -> list[dict[str, Any]]:
            return listed(fp) if listed is not None else []

        if self.json_output:
            self.json(
                {
                    "keys": [
                        {
                            "id": p.key_id,
                            "name": p.name,
                            "fingerprint": p.fingerprint,
                            "encrypted": p.encrypted,
                            "private_key": str(p.private_key_path),
                            "public_key": str(p.public_key_path),
                            "registers": said(p.fingerprint),
                        }
                        for p in pairs
                    ],
                    "trusted": [
                        {
                            "name": t.name,
                            "fingerprint": t.fingerprint,
                            "registers": said(t.fingerprint),
                        }
                        for t in trusted
                    ],
                    "registers": list(registers),
                }
            )
            return

        def status(fp: str) -> tuple[str, ...]:
            # The column is there only when the verifier trusts a register.
            if not registers:
                return ()
            return ("; ".join(str(r["summary"]) for r in said(fp)) or "-",)

        extra = ("register says",) if registers else ()
        self._table(
            ("id", "name", "fingerprint", "encrypted", *extra),
            [
                (
                    p.key_id,
                    p.name,
                    short_fingerprint(p.fingerprint),
                    "yes" if p.encrypted else "NO",
                    *status(p.fingerprint),
                )
                for p in pairs
            ],
            title="Your keys",
            whole=[
                (
                    p.key_id,
                    p.name,
                    p.fingerprint,
                    "yes" if p.encrypted else "NO",
                    *status(p.fingerprint),
                )
                for p in pairs
            ],
        )
        if not _is_terminal(sys.stdout):
            self._line("")
        self._table(
            ("name", "fingerprint", *extra),
            [(t.name, format_fingerprint(t.fingerprint), *status(t.fingerprint)) for t in trusted],
            title="Trusted keys",
            whole=[(t.name, t.fingerprint, *status(t.fingerprint)) for t in trusted],
        )
        if registers:
            if not _is_terminal(sys.stdout):
                self._line("")
            self._table(
                ("unit", "unit key", "version", "keys"),
                [
                    (
                        str(r["unit"]),
                        format_fingerprint(str(r["unit_fingerprint"])),
                        str(r["version"]),
                        str(r["keys"]),
                    )
                    for r in registers
                ],
                title="Trusted registers",
                whole=[
                    (str(r["unit"]), str(r["unit_fingerprint"]), str(r["version"]), str(r["keys"]))
                    for r in registers
                ],
            )

    def authority(self, result: AuthorityResult) -> None:
        """The outcome of a `custody authority` command."""
        data = result.to_json()
        if self.json_output:
            self.json(data)
            return
        r = result.register
        lines = {
            "init": f"Created the unit key of {r.unit.name}",
            "add": f"Certified {data.get('name')}: valid from {data.get('valid_from')} "
            f"until {data.get('valid_until')}",
            "revoke": f"Revoked {data.get('name')} ({data.get('reason')}, "
            f"effective {data.get('since')})",
            "rotate": f"New unit key for {r.unit.name}, announced and signed by the old one",
            "export": f"Exported {r.label()} ({data.get('keys')} keys)"
            + (f" to {data.get('output')}" if data.get("output") else ""),
        }
        self.info(lines[result.action])
        rows = [
            ("Unit key", format_fingerprint(r.unit.fingerprint)),
            ("Register", f"version {r.version}"),
            ("Ledger", f"entry {result.ledger_index}"),
        ]
        if data.get("fingerprint"):
            rows.insert(0, ("Officer key", format_fingerprint(str(data["fingerprint"]))))
        if data.get("public_key_file"):
            rows.append(("Public key", str(data["public_key_file"])))
        if not self.quiet:
            self._fields(rows)

    @json_form(lambda self, result: result.to_json())
    def trust_register(self, result: TrustRegisterResult) -> None:
        r = result.register
        if result.outcome == "added":
            head = f"Now trusting the key register of {r.unit.name}, version {r.version}"
        elif result.outcome == "updated":
            head = (
                f"Updated the key register of {r.unit.name} from version "
                f"{result.previous_version} to {r.version}"
            )
        else:
            head = f"Already trusting the key register of {r.unit.name}, version {r.version}"
        self.info(head)
        self._fields(
            [
                ("Unit key", format_fingerprint(r.unit.fingerprint)),
                ("Keys listed", str(len(r.keys))),
                ("Stored as", str(result.path)),
            ]
        )
