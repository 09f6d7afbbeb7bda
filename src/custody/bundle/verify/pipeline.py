"""What verification checks, in the order it checks it.

`CHECKS` is the whole of bundle verification: a tuple of uniform steps, each a
pure function of the Evidence (everything read from disk, by the operation),
the verifier's TrustPolicy, the time of verification and the Facts that earlier
steps established. A step returns a Step: the problems and warnings it found
and the Facts it adds. No step edits what an earlier one found, reads the
clock or reads a disk; the order of the tuple is the order of dependence (the
signature is judged after the timestamps, because a key register judges a key
at the time the timestamps prove).

`run_checks` folds the steps; bundle/verify/evaluate.py turns the result into
the VerifyReport.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from custody.base.hashing import sha256_bytes
from custody.base.models import Problem
from custody.bundle.format import layout
from custody.bundle.format.chain import is_chain_path, label, verify_chain
from custody.bundle.read import leftovers
from custody.bundle.verify.check_c2pa import check_c2pa
from custody.bundle.verify.check_commitments import check_commitments
from custody.bundle.verify.check_ledger import check_ledger
from custody.bundle.verify.check_names import check_names
from custody.bundle.verify.check_payload import (
    check_bagit_txt,
    check_oxum,
    check_payload,
    check_read_back,
    check_tag_manifest,
)
from custody.bundle.verify.check_register import check_chain_keys, judge_signer, proven_time
from custody.bundle.verify.check_similar import check_similar
from custody.bundle.verify.check_statement import check_signature, check_statement
from custody.bundle.verify.check_team import check_team
from custody.bundle.verify.check_time import check_time
from custody.bundle.verify.check_witness import check_quorum
from custody.bundle.verify.evidence import Check, Evidence, Facts, Outcome, Step, collect
from custody.bundle.verify.manifest import ListedManifest
from custody.ledger.checkpoint_time import check_checkpoint_time
from custody.ledger.proof import PROOF_PATH
from custody.policy import TrustPolicy


def set_aside_os_leftovers(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """Files an operating system adds (.DS_Store, __MACOSX/, Thumbs.db...) that
    neither manifest lists are shown apart, not as intruders (bundle/read/leftovers.py).
    A bundle just written has none: it is checked as it is."""
    scan = evidence.scan
    if evidence.copied is not None:
        return Step(replace(prior, scan=scan), tuple(scan.problems))
    found = leftovers.candidates(scan)
    listed: set[str] = set()
    if found:  # the manifests are read only for the few names that could be leftovers
        for name in (layout.MANIFEST, layout.TAG_MANIFEST):
            listed.update(leftovers.listed_among(scan.tag_bytes.open(name), found))
    kept, os_leftovers = leftovers.set_aside(scan, listed, scan.read_tag, found)
    return Step(replace(prior, scan=kept, os_leftovers=os_leftovers), tuple(kept.problems))


def check_bag(evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts) -> Step:
    """bagit.txt, the payload manifest against the payload (or, for a bundle just
    written, read back against the copies), and bag-info's Payload-Oxum."""
    scan = prior.scanned()
    problems: list[Problem] = []
    check_bagit_txt(scan, problems)
    manifest: ListedManifest | dict[str, str] = {}
    if evidence.copied is None:
        # Streamed from the bytes the scan hashed, its entries spilled in path
        # order: joined with the payload, never held (bundle/verify/manifest.py).
        manifest = ListedManifest(scan.tag_bytes.open(layout.MANIFEST), scan.spill)
        problems.extend(Problem("bad_manifest", layout.MANIFEST, e.detail) for e in manifest.errors)
        listed = len(manifest)
        check_payload(scan, manifest, problems)
    else:
        manifest_bytes = scan.tag_bytes.get(layout.MANIFEST)
        listed = check_read_back(manifest_bytes or b"", evidence.copied, problems)
    bag_info_bytes = scan.tag_bytes.get(layout.BAG_INFO)
    bag_info = dict(layout.parse_bag_info(bag_info_bytes)) if bag_info_bytes is not None else {}
    if bag_info_bytes is not None and evidence.copied is None:
        check_oxum(scan, bag_info, problems)
    return Step(
        replace(prior, manifest=manifest, listed=listed, bag_info=bag_info), tuple(problems)
    )


def check_tags(evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts) -> Step:
    """The tag manifest against every tag file."""
    _, problems = collect(lambda found: check_tag_manifest(prior.scanned(), found))
    return Step(prior, problems)


def check_the_statement(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The signed statement: its form, and that it describes this bag."""
    scan = prior.scanned()
    statement, problems = collect(
        lambda found: check_statement(scan, prior.listed, dict(prior.bag_info), found)
    )
    data = scan.tag_bytes.get(layout.STATEMENT)
    return Step(
        replace(
            prior,
            statement=statement,
            statement_bytes=data,
            statement_sha256=sha256_bytes(data) if data is not None else None,
        ),
        problems,
    )


def check_stored_names(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The portable stored names and the signed map back to the original names."""
    listing: Collection[str] = prior.manifest if evidence.copied is None else evidence.copied.keys()
    names, problems = collect(
        lambda found: check_names(prior.scanned(), listing, prior.statement, found)
    )
    return Step(replace(prior, original_names=names), problems)


def check_content_credentials(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The C2PA reports made at ingest match what the statement signed."""
    _, problems = collect(
        lambda found: check_c2pa(prior.scanned(), dict(prior.bag_info), prior.statement, found)
    )
    return Step(prior, problems)


def check_extraction_members(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The members files of phone extractions (custody/extractions/) match what
    the signed metadata names (extraction/check.py, docs/extraction.md)."""
    from custody.extraction.check import check_extractions

    scan = prior.scanned()

    def signed_metadata() -> bytes | None:
        data = scan.read_tag(layout.METADATA) if prior.statement is not None else None
        if data is None or sha256_bytes(data) != (prior.statement or {}).get("metadata_sha256"):
            return None
        return data

    _, problems = collect(
        lambda found: check_extractions(
            scan.files.tags(), scan.odd_paths, dict(prior.bag_info), signed_metadata, found
        )
    )
    return Step(prior, problems)


def check_committed(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The salted commitments (custody/commitments.jsonl, docs/format.md) against
    the statement's root and the manifest; the officer's note they hold."""
    listing: ListedManifest | Mapping[str, Any] = (
        prior.manifest if evidence.copied is None else evidence.copied
    )
    note, problems = collect(
        lambda found: check_commitments(prior.scanned(), prior.statement, listing, found)
    )
    return Step(replace(prior, committed_note=note), problems)


def check_analysis_results(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The perceptual analysis results (custody/similar.json) match what the
    statement signed."""
    _, problems = collect(lambda found: check_similar(prior.scanned(), prior.statement, found))
    return Step(prior, problems)


def read_timestamps(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """What the bundle's timestamps prove about when it was signed. Its problems
    are reported by report_timestamps, last, as they always were."""
    return Step(replace(prior, time=check_time(prior.scanned().tag_bytes, prior.statement, policy)))


def check_the_signature(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The statement's signature, by a key the verifier trusts; a key a trusted
    register lists is judged at the time the timestamps prove."""
    assert prior.time is not None, "read_timestamps runs before"
    judgement = judge_signer(policy, prior.statement, proven=proven_time(prior.time), now=now)
    (signer, key), problems = collect(
        lambda found: check_signature(
            prior.scanned(), prior.statement, prior.statement_bytes, policy, found, judgement
        )
    )
    return Step(replace(prior, signer=signer, signer_key=key), problems)


def _signed(prior: Facts) -> tuple[dict[str, Any], str] | None:
    if prior.statement is None or prior.statement_sha256 is None:
        return None
    return prior.statement, prior.statement_sha256


def check_ledger_proof(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The ledger proof: the ingest entry, its inclusion in the signed
    checkpoint, the checkpoint's cosignatures, and the verifier's own ledger."""
    signed = _signed(prior)
    if signed is None:
        return Step(prior)
    problems: list[Problem] = []
    warnings: list[str] = []
    info = check_ledger(
        prior.scanned(),
        signed[0],
        signed[1],
        prior.signer_key,
        evidence.local_ledger,
        problems,
        warnings,
        policy,
        int(now.timestamp()),
    )
    return Step(replace(prior, ledger=info), tuple(problems), tuple(warnings))


def check_ledger_checkpoint_time(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """Timestamps the verifier's own ledger holds of the proof's checkpoint."""
    if _signed(prior) is None or prior.ledger is None:
        return Step(prior)
    note = prior.ledger.get("checkpoint")
    if evidence.local_ledger is None or not isinstance(note, str):
        return Step(prior)
    tokens = evidence.local_ledger.checkpoint_tokens(note.encode("utf-8"))
    if not tokens:
        return Step(prior)
    result = check_checkpoint_time(note.encode("utf-8"), tokens, policy.tsa_roots)
    problems = tuple(Problem("bad_timestamp", PROOF_PATH, line) for line in result.problems)
    return Step(replace(prior, ledger={**prior.ledger, **result.to_json()}), problems)


def check_team_proof(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The team proof, against the team keys the verifier chose."""
    signed = _signed(prior)
    if signed is None:
        return Step(prior)
    problems: list[Problem] = []
    warnings: list[str] = []
    info = check_team(
        prior.scanned(),
        signed[0],
        signed[1],
        prior.signer_key,
        policy,
        problems,
        warnings,
        int(now.timestamp()),
    )
    return Step(replace(prior, team=info), tuple(problems), tuple(warnings))


def check_custody_chain(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """Every hand-over record and receipt, their signatures and keys; an open
    hand-over refused only with --require-closed-chain."""
    signed = _signed(prior)
    if signed is None:
        return Step(prior)
    chain_files = dict(prior.scanned().tag_bytes.only(is_chain_path))
    state = verify_chain(chain_files, statement=signed[0], statement_sha256=signed[1])
    problems: list[Problem] = []
    chain = check_chain_keys(state.timeline, policy, now=now, problems=problems)
    problems.extend(state.problems)
    handover = state.open_handover
    if (
        handover is not None
        and policy.require_closed_chain
        and state.pending_to != evidence.pending_ok_for
    ):
        problems.append(
            Problem(
                "unreceived_transfer",
                handover["record"],
                f"handed over to {label(handover['to'])}, but its receipt is not "
                "in this copy (--require-closed-chain)",
            )
        )
    return Step(replace(prior, chain=chain, open_handover=handover), tuple(problems))


def check_witness_quorum(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """--quorum N: enough cosignatures by distinct chosen witnesses."""
    ledger = dict(prior.ledger) if prior.ledger is not None else None
    team = dict(prior.team) if prior.team is not None else None
    _, problems = collect(lambda found: check_quorum(policy, ledger, team, found))
    return Step(prior, problems)


def report_timestamps(
    evidence: Evidence, policy: TrustPolicy, *, now: datetime, prior: Facts
) -> Step:
    """The problems and warnings read_timestamps found (invalid tokens, time not
    proven with --require-timestamp)."""
    assert prior.time is not None
    return Step(prior, prior.time.problems, prior.time.warnings)


CHECKS: tuple[Check, ...] = (
    set_aside_os_leftovers,
    check_bag,
    check_tags,
    check_the_statement,
    check_stored_names,
    check_content_credentials,
    check_extraction_members,
    check_committed,
    check_analysis_results,
    read_timestamps,
    check_the_signature,
    check_ledger_proof,
    check_ledger_checkpoint_time,
    check_team_proof,
    check_custody_chain,
    check_witness_quorum,
    report_timestamps,
)


def run_checks(
    evidence: Evidence,
    policy: TrustPolicy,
    *,
    now: datetime,
    checks: Sequence[Check] = CHECKS,
) -> Outcome:
    """Run `checks` in order over `evidence`."""
    facts = Facts()
    problems: list[Problem] = []
    warnings: list[str] = []
    for check in checks:
        step = check(evidence, policy, now=now, prior=facts)
        facts = step.facts
        problems.extend(step.problems)
        warnings.extend(step.warnings)
    return Outcome(facts, explain_interrupted_staple(problems, facts.ledger), tuple(warnings))


def explain_interrupted_staple(
    problems: Sequence[Problem], ledger: Mapping[str, Any] | None
) -> tuple[Problem, ...]:
    """A staple replaces the proof, then the tag manifest (ops/staple.py): a kill
    between the two leaves a valid proof the tag manifest does not list yet. Still
    a problem (the bytes are not the listed ones), but one that says what happened."""
    if not ledger or not ledger.get("proof_valid"):
        return tuple(problems)
    return tuple(
        Problem(
            p.kind,
            p.path,
            f"{p.detail}; the proof itself checks out, as an interrupted "
            "'custody ledger staple' leaves it: run it again to list the new proof",
        )
        if p.kind == "changed" and p.path == PROOF_PATH
        else p
        for p in problems
    )
